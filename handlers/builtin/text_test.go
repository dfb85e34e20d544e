package builtin_test

import (
	"encoding/json"
	"testing"
	"unicode"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
)

// TestChineseTextIsComplete requires every built-in handler to read fully
// in Chinese in the admin UI: its description and the help text of every
// property of its schema.
func TestChineseTextIsComplete(t *testing.T) {
	t.Parallel()
	r := handler.NewRegistry()
	if err := builtin.Register(r, builtin.Options{EnableShell: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.List() {
		tr, ok := s.Translations["zh-CN"]
		if !ok {
			t.Errorf("%s: no zh-CN translation", s.Name)
			continue
		}
		if !hasHan(tr.Description) {
			t.Errorf("%s: the zh-CN description %q is not Chinese", s.Name, tr.Description)
		}
		var doc struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(s.ConfigSchema, &doc); err != nil {
			t.Fatalf("%s: schema: %v", s.Name, err)
		}
		for name := range doc.Properties {
			if !hasHan(tr.Fields[name]) {
				t.Errorf("%s: property %s has no Chinese help text", s.Name, name)
			}
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
