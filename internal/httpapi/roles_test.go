package httpapi

import (
	"testing"

	"github.com/connecthub/connecthub"
)

// TestRouteWithoutRoleDoesNotRegister: a route whose registration names
// no valid role stops the server from being built, so no route is ever
// left open by mistake.
func TestRouteWithoutRoleDoesNotRegister(t *testing.T) {
	t.Parallel()
	for _, role := range []connecthub.Role{"", "root", "Admin"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("requirementOf(%q) did not panic", role)
				}
			}()
			requirementOf("GET /api/v1/x", role)
		}()
	}
	for role, want := range map[connecthub.Role]requirement{
		connecthub.RoleViewer: {role: connecthub.RoleViewer},
		WorkerOrAdmin:         {role: connecthub.RoleAdmin, worker: true},
		WorkerOrViewer:        {role: connecthub.RoleViewer, worker: true},
	} {
		if got := requirementOf("GET /api/v1/x", role); got != want {
			t.Errorf("requirementOf(%q) = %+v, want %+v", role, got, want)
		}
	}
}
