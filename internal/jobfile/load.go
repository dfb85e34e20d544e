package jobfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connecthub/connecthub"
)

// Set is what Load read: the documents, each with its file and position,
// their secret references resolved, and the source of the batch they
// make (the file names and a hash of their contents).
type Set struct {
	Documents []connecthub.BatchDocument
	Source    connecthub.BatchSource
}

// Errors are every problem Load found, each naming its file, document
// and field. Nothing is applied while there is one.
type Errors []error

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
		var ce *connecthub.Error
		if errors.As(err, &ce) {
			parts[i] = ce.Message
		}
	}
	return strings.Join(parts, "\n")
}

// maxErrors bounds the problems Load reports, so that a wrong directory
// does not print thousands of lines.
const maxErrors = 20

// Load reads job definitions from paths: YAML files, or directories whose
// .yaml and .yml files (at any depth, hidden ones skipped) are read in
// name order. Each document is checked against Schema, then decoded as
// the API decodes a job, and its secret references are resolved with
// getenv and the files they name; any problem in any document is
// returned (Errors) and the set is nil.
func Load(paths []string, getenv func(string) string) (*Set, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	set := &Set{Documents: []connecthub.BatchDocument{}, Source: connecthub.BatchSource{Files: []string{}}}
	h := sha256.New()
	var errs Errors
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		name := filepath.ToSlash(file)
		set.Source.Files = append(set.Source.Files, name)
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(content))
		h.Write(content)
		docs, err := parseFile(name, content)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, doc := range docs {
			if err := prepareDoc(&doc, filepath.Dir(file), getenv); err != nil {
				errs = append(errs, connecthub.DocumentError(name, i, docID(doc.Job), err))
				if len(errs) >= maxErrors {
					return nil, errs
				}
				continue
			}
			set.Documents = append(set.Documents, doc)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	set.Source.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return set, nil
}

// expand lists the definition files of paths.
func expand(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no files: give -f FILE or -f DIR")
	}
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && (strings.HasSuffix(d.Name(), ".yaml") || strings.HasSuffix(d.Name(), ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .yaml or .yml files", p)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

// parseFile splits a file into its documents (empty ones skipped) and
// renders each as JSON.
func parseFile(name string, content []byte) ([]connecthub.BatchDocument, error) {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	var docs []connecthub.BatchDocument
	for index := 0; ; index++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", name, index+1, err)
		}
		if len(node.Content) == 0 || (node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Tag == "!!null") {
			index--
			continue
		}
		var v any
		if err := node.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", name, index+1, err)
		}
		raw, err := json.Marshal(jsonValue(v))
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", name, index+1, err)
		}
		docs = append(docs, connecthub.BatchDocument{File: name, Index: index, Job: raw})
	}
}

// jsonValue turns what YAML decoded into values JSON can render: maps
// with keys that are not strings get their keys as text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonValue(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	}
	return v
}

// prepareDoc checks one document and resolves its secret references in
// place.
func prepareDoc(doc *connecthub.BatchDocument, dir string, getenv func(string) string) error {
	if err := checkSchema(doc.Job); err != nil {
		return err
	}
	if _, err := connecthub.DecodeJobInput(doc.Job); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc.Job, &fields); err != nil {
		return err
	}
	raw, ok := fields["secret_cfg"]
	if !ok {
		return nil
	}
	var refs map[string]string
	if err := json.Unmarshal(raw, &refs); err != nil {
		return connecthub.FieldError("secret_cfg", "", "secret_cfg values must be ${ENV} or file:PATH references")
	}
	values := make(map[string]string, len(refs))
	for key, ref := range refs {
		v, err := resolve(ref, dir, getenv)
		if err != nil {
			return connecthub.FieldError("secret_cfg."+key, "unresolved_secret", "%s", err)
		}
		values[key] = v
	}
	if fields["secret_cfg"], ok = mustJSON(values); !ok {
		return connecthub.FieldError("secret_cfg", "", "secret_cfg cannot be encoded")
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	doc.Job = out
	return nil
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// resolve reads the value a secret reference names. Its errors name the
// reference, never a value.
func resolve(ref, dir string, getenv func(string) string) (string, error) {
	if m := envRef.FindStringSubmatch(ref); m != nil {
		v := getenv(m[1])
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set (or empty)", m[1])
		}
		return v, nil
	}
	if path, ok := strings.CutPrefix(ref, "file:"); ok && path != "" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("cannot read the secret file %s: %s", path, errors.Unwrap(err))
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return "", fmt.Errorf("the secret file %s is empty", path)
		}
		return v, nil
	}
	return "", errors.New("a secret_cfg value must be a ${ENV} or file:PATH reference, not the secret itself")
}

func mustJSON(v any) (json.RawMessage, bool) {
	b, err := json.Marshal(v)
	return b, err == nil
}

// docID is a document's id, when it has a string one, for messages.
func docID(raw json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	s, _ := v.ID.(string)
	return s
}
