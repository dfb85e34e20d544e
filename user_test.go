package connecthub_test

import (
	"testing"

	"github.com/connecthub/connecthub"
)

func TestRoleOrder(t *testing.T) {
	t.Parallel()
	v, o, a := connecthub.RoleViewer, connecthub.RoleOperator, connecthub.RoleAdmin
	for _, c := range []struct {
		have, need connecthub.Role
		want       bool
	}{
		{v, v, true}, {v, o, false}, {v, a, false},
		{o, v, true}, {o, o, true}, {o, a, false},
		{a, v, true}, {a, o, true}, {a, a, true},
		{"", v, false}, {"root", v, false}, {a, "", false}, {a, "root", false},
	} {
		if got := c.have.Allows(c.need); got != c.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", c.have, c.need, got, c.want)
		}
	}
	if r, err := connecthub.ParseRole(" Operator "); err != nil || r != o {
		t.Errorf("ParseRole(Operator) = %q, %v", r, err)
	}
	if _, err := connecthub.ParseRole("superuser"); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Errorf("ParseRole(superuser) = %v, want KindInvalid", err)
	}
	var nobody *connecthub.Principal
	if nobody.Allows(v) || nobody.Name() != "" {
		t.Errorf("a nil principal allows something")
	}
}
