package connecthub_test

import (
	"testing"

	"github.com/connecthub/connecthub"
)

func TestNodeHandlerServes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		advertised, name string
		want             bool
	}{
		{"py.echo", "py.echo", true},
		{"py.echo", "py.echo2", false},
		{"py:*", "py:extensions.x.job:MyJob", true},
		{"py:*", "py:", true},
		{"py:*", "py", false},
		{"py:*", "px:a", false},
		{"py:*", "py:*", true},
		{"*", "anything", false}, // a wildcard needs a prefix
		{"*", "*", true},
	}
	for _, tt := range tests {
		if got := (connecthub.NodeHandler{Name: tt.advertised}).Serves(tt.name); got != tt.want {
			t.Errorf("%q serves %q = %v, want %v", tt.advertised, tt.name, got, tt.want)
		}
	}
	if p, ok := connecthub.HandlerPrefix("py:*"); !ok || p != "py:" {
		t.Errorf("HandlerPrefix(py:*) = %q, %v", p, ok)
	}
	if _, ok := connecthub.HandlerPrefix("py:"); ok {
		t.Error("a plain name has no prefix")
	}
}
