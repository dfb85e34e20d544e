package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

func as(role connecthub.Role) context.Context {
	return connecthub.WithPrincipal(context.Background(), &connecthub.Principal{Kind: connecthub.PrincipalSession, User: "u", Role: role})
}

// TestOnlyAnAdminSavesAShellJob: the role check of a shell job is in the
// service, because it depends on the body, not the route.
func TestOnlyAnAdminSavesAShellJob(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil)
	shell := `{"id":"sh","handler":"shell","public_cfg":{"command":"id"}}`
	for _, c := range []struct {
		ctx  context.Context
		code string
	}{
		{as(connecthub.RoleViewer), "forbidden"},
		{as(connecthub.RoleOperator), "forbidden"},
		{as(connecthub.RoleAdmin), "handler_disabled"}, // past the role check
	} {
		_, err := svc.JobCreate(c.ctx, jobInput(t, shell))
		if ce, ok := err.(*connecthub.Error); !ok || ce.Code != c.code {
			t.Errorf("JobCreate(shell) as %s = %v, want code %s", connecthub.PrincipalFrom(c.ctx).Role, err, c.code)
		}
	}
	if _, err := svc.JobCreate(as(connecthub.RoleAdmin), jobInput(t, `{"id":"n","handler":"noop"}`)); err != nil {
		t.Fatal(err)
	}
	_, err := svc.JobUpdate(as(connecthub.RoleOperator), "n", jobInput(t, `{"handler":"shell","public_cfg":{"command":"id"}}`))
	if !connecthub.IsKind(err, connecthub.KindForbidden) {
		t.Errorf("an operator turned a job into a shell job: %v", err)
	}
	if j, _ := svc.JobGet(context.Background(), "n"); j.Handler != "noop" {
		t.Errorf("handler = %s after a refused update", j.Handler)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil)
	ctx := context.Background()
	u, err := svc.UserCreate(ctx, service.UserInput{Username: "li.lei", DisplayName: " 李雷 ", Password: "twelve chars!"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != connecthub.RoleViewer || u.DisplayName != "李雷" || u.PasswordHash == "" {
		t.Errorf("created %+v", u)
	}
	for name, in := range map[string]service.UserInput{
		"short password": {Username: "a", Password: "short"},
		"bad role":       {Username: "b", Password: "twelve chars!", Role: "root"},
		"bad username":   {Username: "c d", Password: "twelve chars!"},
		"two lines":      {Username: "e", Password: "twelve chars!", DisplayName: "a\nb"},
	} {
		if _, err := svc.UserCreate(ctx, in); !connecthub.IsKind(err, connecthub.KindInvalid) {
			t.Errorf("%s: UserCreate = %v, want KindInvalid", name, err)
		}
	}
	if _, err := svc.UserCreate(ctx, service.UserInput{Username: "li.lei", Password: "twelve chars!"}); !connecthub.IsKind(err, connecthub.KindConflict) {
		t.Errorf("duplicate: %v", err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"li.lei", "twelve chars!", true},
		{"li.lei", "twelve chars?", false},
		{"nobody", "twelve chars!", false},
	} {
		_, err := svc.UserAuthenticate(ctx, c.user, c.pw)
		if (err == nil) != c.ok || (err != nil && !connecthub.IsKind(err, connecthub.KindUnauthorized)) {
			t.Errorf("UserAuthenticate(%s, %s) = %v, want ok %v", c.user, c.pw, err, c.ok)
		}
	}
	if got, _ := svc.UserGet(ctx, "li.lei"); got.LastLoginAt == nil {
		t.Errorf("last_login_at not recorded")
	}
	if err := svc.ChangeOwnPassword(ctx, "li.lei", "wrong", "a new password"); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Errorf("ChangeOwnPassword with a wrong current password = %v", err)
	}
	if err := svc.ChangeOwnPassword(ctx, "li.lei", "twelve chars!", "a new password"); err != nil {
		t.Fatal(err)
	}
	off := true
	if _, err := svc.UserUpdate(ctx, "li.lei", service.UserPatch{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UserAuthenticate(ctx, "li.lei", "a new password"); !connecthub.IsKind(err, connecthub.KindUnauthorized) {
		t.Errorf("a disabled user signed in: %v", err)
	}
	if _, err := svc.SessionPrincipal(ctx, "ses_1", "li.lei", false); !connecthub.IsKind(err, connecthub.KindUnauthorized) {
		t.Errorf("a disabled user's session acts: %v", err)
	}
	if p, err := svc.SessionPrincipal(ctx, "ses_2", "admin", true); err != nil || p.Role != connecthub.RoleAdmin || !p.BreakGlass {
		t.Errorf("break-glass session = %+v, %v", p, err)
	}
}

// TestAuditPurge keeps the log to its retention and records the purge.
func TestAuditPurge(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil) // its clock is t0
	ctx := context.Background()
	for _, name := range []string{"a.user", "b.user"} {
		if _, err := svc.UserCreate(ctx, service.UserInput{Username: name, Password: "twelve chars!"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := svc.AuditPurge(ctx, 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("purge of fresh entries = %d, %v", n, err)
	}
	if n, err := svc.AuditPurge(ctx, -time.Second); err != nil || n != 2 { // everything is older than now+1s
		t.Fatalf("purge = %d, %v; want 2", n, err)
	}
	list, _, err := svc.AuditList(ctx, connecthub.AuditFilter{})
	if err != nil || len(list) != 1 || list[0].Action != "audit.purge" || list[0].Actor != connecthub.ActorSystem {
		t.Fatalf("after the purge: %+v, %v", list, err)
	}
}
