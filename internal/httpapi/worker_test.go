package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func TestCapChunk(t *testing.T) {
	t.Parallel()
	const max = 100
	limit := max - len(truncationSuffix)
	tests := []struct {
		name  string
		chunk string
		size  int64
		want  string
	}{
		{"fits", "abc", 0, "abc"},
		{"fits exactly below the marker's room", strings.Repeat("a", limit), 0, strings.Repeat("a", limit)},
		{"cut with the marker", strings.Repeat("a", limit+1), 0, strings.Repeat("a", limit) + truncationSuffix},
		{"cut after earlier appends", "0123456789", int64(limit - 4), "0123" + truncationSuffix},
		{"full log takes only the marker", "x", int64(limit), truncationSuffix},
		{"log with its marker takes nothing", "x", max, ""},
		{"cut on a rune boundary", strings.Repeat("a", limit-1) + "é", 0, strings.Repeat("a", limit-1) + truncationSuffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capChunk(tt.chunk, tt.size, max)
			if got != tt.want {
				t.Errorf("capChunk = %q, want %q", got, tt.want)
			}
			if tt.size+int64(len(got)) > max || !utf8.ValidString(got) {
				t.Errorf("log of %d bytes + %q breaks the cap or UTF-8", tt.size, got)
			}
		})
	}
}

func TestAlreadyApplied(t *testing.T) {
	t.Parallel()
	const node = "w1"
	out := func(attempt int, errText string) *store.RunOutcome {
		return &store.RunOutcome{Node: node, Attempt: attempt, Error: errText}
	}
	tests := []struct {
		name   string
		run    connecthub.Run
		status string
		o      *store.RunOutcome
		want   bool
	}{
		{"success recorded", connecthub.Run{Status: connecthub.StatusSuccess, Node: node, Attempt: 1}, "SUCCESS", out(1, ""), true},
		{"failure recorded", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 1, Error: "boom"}, "FAILURE", out(1, "boom"), true},
		{"rescued to failure: worker lost", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 1, Error: connecthub.ReasonWorkerLost}, "SUCCESS", out(1, ""), false},
		{"rescued, re-queued", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2}, "SUCCESS", out(1, ""), false},
		{"rescued, running elsewhere", connecthub.Run{Status: connecthub.StatusRunning, Node: "w2", Attempt: 2}, "SUCCESS", out(1, ""), false},
		{"other node's success", connecthub.Run{Status: connecthub.StatusSuccess, Node: "w2", Attempt: 1}, "SUCCESS", out(1, ""), false},
		{"retry recorded", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2, Attempts: []connecthub.Attempt{{Attempt: 1, Node: node, Error: "e"}}}, "RETRY", out(1, "e"), true},
		{"retry after a rescue", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2, Attempts: []connecthub.Attempt{{Attempt: 1, Node: node, Error: connecthub.ReasonWorkerLost}}}, "RETRY", out(1, "e"), false},
		{"retry on the last attempt", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 3, Error: "e"}, "RETRY", out(3, "e"), true},
		{"retry of a canceled run", connecthub.Run{Status: connecthub.StatusCanceled, Node: node, Attempt: 1, CancelRequested: true}, "RETRY", out(1, "e"), true},
		{"hand-back recorded", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 1}, "HANDBACK", out(1, ""), true},
		{"hand-back, claimed again elsewhere", connecthub.Run{Status: connecthub.StatusRunning, Node: "w2", Attempt: 1}, "HANDBACK", out(1, ""), true},
		{"hand-back after a rescue", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2}, "HANDBACK", out(1, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alreadyApplied(&tt.run, tt.status, tt.o); got != tt.want {
				t.Errorf("alreadyApplied = %v, want %v", got, tt.want)
			}
		})
	}
}

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
