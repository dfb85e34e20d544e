package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type body struct {
		Name string `json:"name"`
		Max  int    `json:"max"`
	}
	tests := []struct {
		body, code, field string
	}{
		{"", "invalid_body", ""},
		{"   ", "invalid_body", ""},
		{"{", "invalid_body", ""},
		{"[1,2]", "invalid_body", ""},
		{`"str"`, "invalid_body", ""},
		{`{"name":5}`, "invalid_name", "name"},
		{`{"max":"ten"}`, "invalid_max", "max"},
		{`{"max":1.5}`, "invalid_max", "max"},
		{`{"name":"a"} trailing`, "invalid_body", ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			var b body
			err := decodeJSON(r, &b)
			var e *connecthub.Error
			if !errors.As(err, &e) || e.Kind != connecthub.KindInvalid || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("decodeJSON(%q) = %#v, want %s on %q", tt.body, err, tt.code, tt.field)
			}
		})
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"w","max":3,"extra":true}`))
	var b body
	if err := decodeJSON(r, &b); err != nil || b.Name != "w" || b.Max != 3 {
		t.Errorf("a good body: %+v, %v (unknown fields are ignored, for newer workers)", b, err)
	}
}
