package adminui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded CSS, scripts and icons. Pages link them
// with ?v=<content hash>, so browsers may cache them forever and still get
// a new version right after an upgrade.
type staticFiles struct {
	files map[string]staticFile
}

type staticFile struct {
	data        []byte
	hash        string
	contentType string
}

func loadStatic() (*staticFiles, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &staticFiles{files: make(map[string]staticFile)}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.files[name] = staticFile{data: b, hash: hex.EncodeToString(sum[:])[:12], contentType: ct}
		return nil
	})
	return s, err
}

// url returns the versioned link of a static file.
func (s *staticFiles) url(name string) string {
	f, ok := s.files[name]
	if !ok {
		return Prefix + "/static/" + name
	}
	return Prefix + "/static/" + name + "?v=" + f.hash
}

// ServeHTTP serves one file. No login is needed: the files are the same for
// everybody and the login page itself uses them.
func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	if r.URL.Query().Get("v") == f.hash {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+f.hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
