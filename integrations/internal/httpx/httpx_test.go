package httpx

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		limit   int64
		wantErr bool
	}{
		{body: "", limit: 0},
		{body: "abc", limit: 3},
		{body: "abcd", limit: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			got, err := ReadBody(strings.NewReader(tt.body), tt.limit)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "larger than 3 bytes") {
					t.Fatalf("err = %v, want a size error", err)
				}
				return
			}
			if err != nil || string(got) != tt.body {
				t.Fatalf("ReadBody = %q, %v", got, err)
			}
		})
	}
}

func TestTransportErrorDropsTheURL(t *testing.T) {
	t.Parallel()
	err := &url.Error{Op: "Get", URL: "https://h/x?access_token=SECRET", Err: context.DeadlineExceeded}
	got := TransportError(err)
	if strings.Contains(got.Error(), "SECRET") {
		t.Errorf("error %q still carries the URL", got)
	}
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("error %v lost its cause", got)
	}
	plain := errors.New("plain")
	if TransportError(plain) != plain {
		t.Error("a plain error was changed")
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		max     int
		secrets []string
		want    string
	}{
		{name: "short", body: `{"ok":false}`, max: 50, want: `{"ok":false}`},
		{name: "lines folded", body: "a\n  b\tc\n", max: 50, want: "a b c"},
		{name: "cut", body: "abcdef", max: 3, want: "abc…"},
		{name: "cut at a rune", body: "工号工号", max: 4, want: "工…"},
		{name: "secret redacted", body: `token pw123 bad`, max: 50, secrets: []string{"pw123", ""}, want: "token ****** bad"},
		{name: "secret redacted before cutting", body: `xx pw123`, max: 5, secrets: []string{"pw123"}, want: "xx **…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Snippet([]byte(tt.body), tt.max, tt.secrets...); got != tt.want {
				t.Errorf("Snippet = %q, want %q", got, tt.want)
			}
		})
	}
}
