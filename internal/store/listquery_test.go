package store

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestWhere checks that the list filters come out the same in both
// dialects but for how they write parameters, times and prefixes.
func TestWhere(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	dollar := Dialect{Mark: func(n int) string { return "$" + strconv.Itoa(n) }, Time: func(t time.Time) any { return t },
		Prefix: func(col, v string) (string, []any) { return "starts_with(" + col + ", ?)", []any{v} }}
	question := Dialect{Mark: func(int) string { return "?" }, Time: func(t time.Time) any { return t.UnixMicro() },
		Prefix: func(col, v string) (string, []any) { return "substr(" + col + ", 1, ?) = ?", []any{len(v), v} }}
	f := connecthub.AuditFilter{Actor: "li.lei", Action: "job.", Since: since}
	cases := []struct {
		d     Dialect
		where string
		args  []any
	}{
		{dollar, " WHERE id < $1 AND actor = $2 AND starts_with(action, $3) AND at >= $4", []any{int64(9), "li.lei", "job.", since}},
		{question, " WHERE id < ? AND actor = ? AND substr(action, 1, ?) = ? AND at >= ?", []any{int64(9), "li.lei", 4, "job.", since.UnixMicro()}},
	}
	for _, c := range cases {
		w := NewWhere(c.d)
		AuditWhere(w, f, 9)
		if w.SQL() != c.where || !reflect.DeepEqual(w.Args, c.args) {
			t.Errorf("AuditWhere = %q %v, want %q %v", w.SQL(), w.Args, c.where, c.args)
		}
	}
	w := NewWhere(dollar)
	NotificationWhere(w, connecthub.NotificationFilter{})
	if w.SQL() != "" || w.Arg(5) != "$1" {
		t.Errorf("an empty notification filter gave %q, then mark %v", w.SQL(), w.Args)
	}
	w = NewWhere(dollar)
	NotificationWhere(w, connecthub.NotificationFilter{Status: "sent", Cursor: "01X"})
	if w.SQL() != " WHERE status = $1 AND id < $2" {
		t.Errorf("NotificationWhere = %q", w.SQL())
	}
}
