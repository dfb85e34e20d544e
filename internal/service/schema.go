package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
)

// schemaCache compiles each handler's config schema once. It is keyed by
// the schema's text as well as the handler's name, because a handler that
// only remote nodes serve may declare a new schema when a new version of
// its worker registers.
type schemaCache struct {
	mu      sync.Mutex
	schemas map[string]*compiled
}

type compiled struct {
	schema *jsonschema.Schema
	err    error
}

func newSchemaCache() *schemaCache { return &schemaCache{schemas: make(map[string]*compiled)} }

// maxCachedSchemas bounds the cache; workers re-registering with ever new
// schemas must not grow it forever. Past it, the cache starts over.
const maxCachedSchemas = 1024

func (c *schemaCache) get(spec handler.Spec) *compiled {
	sum := sha256.Sum256(spec.ConfigSchema)
	key := spec.Name + "\x00" + hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, ok := c.schemas[key]; ok {
		return got
	}
	if len(c.schemas) >= maxCachedSchemas {
		clear(c.schemas)
	}
	got := &compiled{}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec.ConfigSchema))
	if err == nil {
		comp := jsonschema.NewCompiler()
		url := "handler:" + spec.Name
		if err = comp.AddResource(url, doc); err == nil {
			got.schema, err = comp.Compile(url)
		}
	}
	got.err = err
	c.schemas[key] = got
	return got
}

// validate checks public_cfg against the handler's schema, when it declares
// one. A schema that does not compile is the handler author's bug: it is
// reported, not silently skipped.
func (c *schemaCache) validate(spec handler.Spec, cfg json.RawMessage) error {
	if len(bytes.TrimSpace(spec.ConfigSchema)) == 0 {
		return nil
	}
	comp := c.get(spec)
	if comp.err != nil {
		return &connecthub.Error{Kind: connecthub.KindUnprocessable, Code: "bad_handler_schema", Field: "handler",
			Message: "handler " + spec.Name + " declares a config schema that does not compile: " + comp.err.Error()}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(cfg))
	if err != nil {
		return connecthub.FieldError("public_cfg", "", "public_cfg must be a JSON object")
	}
	err = comp.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return connecthub.FieldError("public_cfg", "invalid_config", "public_cfg: %v", err)
	}
	return connecthub.FieldError("public_cfg", "invalid_config", "public_cfg does not match the schema of handler %s: %s", spec.Name, describe(ve))
}

// describe flattens a validation error into "at /url: missing property" lines.
func describe(ve *jsonschema.ValidationError) string {
	out := ve.BasicOutput()
	var parts []string
	for _, u := range out.Errors {
		if u.Error == nil {
			continue
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		msg := loc + ": " + u.Error.String()
		if !contains(parts, msg) {
			parts = append(parts, msg)
		}
		if len(parts) == 5 {
			break
		}
	}
	if len(parts) == 0 {
		return strings.TrimSpace(ve.Error())
	}
	return strings.Join(parts, "; ")
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}
