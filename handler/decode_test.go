package handler_test

import (
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
)

type cfg struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Tags   []string          `json:"tags"`
	Labels map[string]string `json:"labels,omitempty"`
	Hidden string            `json:"-"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string
		want    cfg
		wantErr string
	}{
		{name: "empty", config: ``},
		{name: "null", config: ` null `},
		{name: "empty object", config: `{}`},
		{name: "all keys", config: `{"name": "a", "count": 2, "tags": ["x"], "labels": {"k": "v"}}`,
			want: cfg{Name: "a", Count: 2, Tags: []string{"x"}, Labels: map[string]string{"k": "v"}}},
		{name: "array", config: `[]`, wantErr: "public_cfg must be a JSON object"},
		{name: "string", config: `"x"`, wantErr: "public_cfg must be a JSON object"},
		{name: "broken", config: `{"name": `, wantErr: "public_cfg must be a JSON object"},
		{name: "unknown key", config: `{"nme": "a"}`, wantErr: `public_cfg: unknown key "nme" (known keys: count, labels, name, tags)`},
		{name: "keys are case-sensitive", config: `{"Name": "a"}`, wantErr: `unknown key "Name"`},
		{name: "a json:\"-\" field is not a key", config: `{"Hidden": "a"}`, wantErr: `unknown key "Hidden"`},
		{name: "wrong type", config: `{"count": "2"}`, wantErr: "public_cfg.count must be an integer, not a string"},
		{name: "fraction for an integer", config: `{"count": 2.5}`, wantErr: "public_cfg.count must be an integer, not a number"},
		{name: "wrong element type", config: `{"tags": [1]}`, wantErr: "must be a string, not a number"},
		{name: "object for an array", config: `{"tags": {}}`, wantErr: "public_cfg.tags must be an array, not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got cfg
			err := (&handler.Task{Config: []byte(tt.config)}).Decode(&got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if !handler.IsPermanent(err) {
					t.Errorf("err = %v is not permanent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || got.Count != tt.want.Count || strings.Join(got.Tags, ",") != strings.Join(tt.want.Tags, ",") ||
				len(got.Labels) != len(tt.want.Labels) {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeNilTask(t *testing.T) {
	t.Parallel()
	var got cfg
	var nilTask *handler.Task
	if err := nilTask.Decode(&got); err == nil || !handler.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
}

func TestLoggerIsNeverNil(t *testing.T) {
	t.Parallel()
	for _, tk := range []*handler.Task{nil, {}} {
		log := tk.Logger()
		if log == nil {
			t.Fatal("nil logger")
		}
		log.Info("discarded")
	}
}

// Shared parts of a configuration, embedded the way a handler composes its
// config from pieces several handlers share.
type (
	connPart struct {
		BaseURL string `json:"base_url"`
		Timeout string `json:"timeout"`
	}
	PagePart struct {
		Page int `json:"page"`
	}
	composed struct {
		connPart
		*PagePart
		Extra map[string]string `json:"extra"`
		Inner struct {
			Depth int `json:"depth"`
		} `json:"inner"`
		Tagged PagePart `json:"tagged"`
	}
)

func TestDecodeEmbedded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{name: "promoted keys", config: `{"base_url": "https://x", "timeout": "1s", "page": 2, "extra": {"a": "b"}}`},
		{name: "unknown key lists the promoted ones", config: `{"base_ur": "x"}`,
			wantErr: `public_cfg: unknown key "base_ur" (known keys: base_url, extra, inner, page, tagged, timeout)`},
		{name: "the embedded type is not a key", config: `{"connPart": {}}`, wantErr: `unknown key "connPart"`},
		{name: "wrong type in an embedded struct", config: `{"base_url": 1}`, wantErr: "public_cfg.base_url must be a string, not a number"},
		{name: "wrong type through an embedded pointer", config: `{"page": "2"}`, wantErr: "public_cfg.page must be an integer, not a string"},
		{name: "wrong type in a map", config: `{"extra": {"a": 1}}`, wantErr: "public_cfg.extra must be a string, not a number"},
		{name: "nested object keeps its path", config: `{"inner": {"depth": true}}`, wantErr: "public_cfg.inner.depth must be an integer, not a bool"},
		{name: "a tagged struct is a nested object", config: `{"tagged": {"page": []}}`, wantErr: "public_cfg.tagged.page must be an integer, not an array"},
		{name: "two values", config: `{} {}`, wantErr: "public_cfg must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got composed
			err := (&handler.Task{Config: []byte(tt.config)}).Decode(&got)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.BaseURL != "https://x" || got.Timeout != "1s" || got.PagePart == nil || got.Page != 2 || got.Extra["a"] != "b" {
					t.Errorf("decoded %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if !handler.IsPermanent(err) {
				t.Errorf("err = %v is not permanent", err)
			}
		})
	}
}
