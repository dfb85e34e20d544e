package calendar

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The built-in calendars' data files, one per calendar, each citing the
// official notices its days come from.
//
//go:embed data/*.json
var builtinFS embed.FS

// Builtin returns the built-in calendars (today: cn), parsed and
// validated, sorted by name. Each call returns fresh copies, so a caller
// may change them.
func Builtin() ([]*Calendar, error) {
	entries, err := builtinFS.ReadDir("data")
	if err != nil {
		return nil, err
	}
	var out []*Calendar
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := builtinFS.ReadFile("data/" + e.Name())
		if err != nil {
			return nil, err
		}
		c := new(Calendar)
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("calendar: built-in %s: %w", e.Name(), err)
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("calendar: built-in %s: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
