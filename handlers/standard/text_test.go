package standard_test

import (
	"encoding/json"
	"testing"
	"unicode"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/standard"
)

// TestChineseTextIsComplete requires every handler of the stock binary to
// read fully in Chinese in the admin UI: its description and the help text
// of every property of its schema.
func TestChineseTextIsComplete(t *testing.T) {
	t.Parallel()
	r := handler.NewRegistry()
	if err := standard.Register(r); err != nil {
		t.Fatal(err)
	}
	if n := len(r.List()); n < 7 {
		t.Fatalf("the stock binary has %d handlers, want noop, sleep, httpcall, shell and the three OA → Didi ones", n)
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
