package runrules

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestServerMasksReload checks when the changing secrets are reloaded: on
// Invalidate and after the refresh interval, not on every call, and that
// a failed load keeps masking what was loaded last.
func TestServerMasksReload(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	values, loads := []string{"channel-secret-1"}, 0
	var fail error
	m := NewServerMasks([]string{"admin-token-0001"}, func(context.Context) ([]string, error) {
		loads++
		return values, fail
	}, time.Minute)
	m.now = func() time.Time { return now }
	mask := func(s string) string { return m.Masker(t.Context()).Mask(s) }
	steps := []struct {
		name      string
		before    func()
		text      string
		want      string
		wantLoads int
	}{
		{"first use loads", nil, "admin-token-0001 channel-secret-1", "****** ******", 1},
		{"cached within the interval", func() { values = []string{"channel-secret-2"} }, "channel-secret-2", "channel-secret-2", 1},
		{"invalidated", func() { m.Invalidate() }, "channel-secret-1 channel-secret-2", "channel-secret-1 ******", 2},
		{"refreshed after the interval", func() { values = []string{"channel-secret-3"}; now = now.Add(time.Minute) }, "channel-secret-3", "******", 3},
		{"a failed load keeps the last values", func() { fail = errors.New("database down"); m.Invalidate() }, "channel-secret-3 admin-token-0001", "****** ******", 4},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		if got := mask(s.text); got != s.want || loads != s.wantLoads {
			t.Errorf("%s: Mask(%q) = %q after %d loads, want %q after %d", s.name, s.text, got, loads, s.want, s.wantLoads)
		}
	}
	var none *ServerMasks
	if got := none.Masker(t.Context()).Mask("x-secret"); got != "x-secret" {
		t.Errorf("nil masks changed the text: %q", got)
	}
}
