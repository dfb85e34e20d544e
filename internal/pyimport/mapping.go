package pyimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PythonPrefix starts the name of a handler that the Python worker
// (connecthub-worker --legacy-path) serves: py:<handler_path>.
const PythonPrefix = "py:"

// seedExamples maps the Python ConnectHub's example jobs to the built-in
// handlers that do the same work.
var seedExamples = map[string]string{
	"extensions.sync_oa_to_didi.job:SyncOAToDidiTokenJob":           "sync_oa_to_didi.token",
	"extensions.sync_oa_to_didi.job:SyncOAToDidiExportFormJob":      "sync_oa_to_didi.export_form",
	"extensions.sync_oa_to_didi.job:SyncOAToDidiLegalEntitySyncJob": "sync_oa_to_didi.legal_entity_sync",
}

// Mapping turns a Python handler_path into a ConnectHub handler name.
type Mapping struct {
	overrides map[string]string
}

// NewMapping returns the mapping with the overrides of a --map file (nil
// for none), keyed by handler_path in either form.
func NewMapping(overrides map[string]string) *Mapping {
	m := &Mapping{overrides: map[string]string{}}
	for k, v := range overrides {
		m.overrides[canonicalPath(k)] = strings.TrimSpace(v)
	}
	return m
}

// canonicalPath writes a handler_path in the module:Class form: the seed
// accepts pkg.mod.Class too, where the class is the last dotted part.
func canonicalPath(p string) string {
	p = strings.TrimSpace(p)
	if strings.Contains(p, ":") {
		return p
	}
	if i := strings.LastIndex(p, "."); i > 0 {
		return p[:i] + ":" + p[i+1:]
	}
	return p
}

// Handler returns the handler for a handler_path: a --map override, a
// seed example's built-in handler, or py:<handler_path> (as the job had
// it, so that the Python worker imports the same class the same way).
func (m *Mapping) Handler(handlerPath string) string {
	c := canonicalPath(handlerPath)
	if h, ok := m.overrides[c]; ok {
		return h
	}
	if h, ok := seedExamples[c]; ok {
		return h
	}
	return PythonPrefix + strings.TrimSpace(handlerPath)
}

// LoadMapFile reads a --map file: a JSON object or a YAML mapping of
// handler_path to handler name.
func LoadMapFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--map: %w", err)
	}
	var m map[string]string
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		err = json.Unmarshal(t, &m)
	} else {
		err = yaml.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("--map %s: want a mapping of handler_path to handler name (YAML or JSON): %w", path, err)
	}
	for k, v := range m {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("--map %s: empty handler_path or handler in %q: %q", path, k, v)
		}
	}
	return m, nil
}
