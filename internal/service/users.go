package service

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/store"
)

// ShellHandler is the handler only an admin may put in a job: it runs
// any command on the node.
const ShellHandler = "shell"

// requireShellAdmin refuses a save that creates or edits a shell job
// unless the request's principal is an admin. A call without a principal
// comes from the server itself (a CLI command on the database), which the
// transports' role checks do not concern.
func requireShellAdmin(ctx context.Context, handlers ...string) error {
	p := connecthub.PrincipalFrom(ctx)
	if p == nil || p.Allows(connecthub.RoleAdmin) {
		return nil
	}
	for _, h := range handlers {
		if h == ShellHandler {
			return connecthub.ErrRoleNeeded(connecthub.RoleAdmin, "creating or editing a shell job")
		}
	}
	return nil
}

// UserInput is a new user, or (UserPatch) the fields of one to change.
type UserInput struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Password    string `json:"password"`
}

// UserPatch changes some of a user's fields; nil leaves one as it is.
type UserPatch struct {
	DisplayName *string `json:"display_name"`
	Role        *string `json:"role"`
	Password    *string `json:"password"`
	Disabled    *bool   `json:"disabled"`
	// AllowOIDCLink sets or withdraws the admin's leave for the user's
	// next single sign-on to link to it (OIDCAllowLink).
	AllowOIDCLink *bool `json:"allow_oidc_link"`
}

func checkDisplayName(s string) error {
	if len(s) > connecthub.MaxDisplayName || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n") {
		return connecthub.FieldError("display_name", "", "display_name must be one line of at most %d bytes", connecthub.MaxDisplayName)
	}
	return nil
}

// UserCreate adds a user with a password (hashed here, never stored in
// clear). The role defaults to viewer, the least.
func (s *Service) UserCreate(ctx context.Context, in UserInput) (*connecthub.User, error) {
	in.Username = strings.TrimSpace(in.Username)
	if err := connecthub.CheckUsername(in.Username); err != nil {
		return nil, err
	}
	role := connecthub.RoleViewer
	if in.Role != "" {
		r, err := connecthub.ParseRole(in.Role)
		if err != nil {
			return nil, err
		}
		role = r
	}
	name := strings.TrimSpace(in.DisplayName)
	if err := checkDisplayName(name); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now().Truncate(time.Microsecond)
	u := &connecthub.User{Username: in.Username, DisplayName: name, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	actx, audit := s.audited(ctx, "user.create", "user:"+u.Username)
	audit.Changes = []connecthub.AuditChange{{Field: "role", After: string(role)}, {Field: "display_name", After: store.AuditValue(name)}}
	if err := s.st.UserCreate(actx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// UserList returns every user by username, each with its link mark (two
// reads, whatever the number of users).
func (s *Service) UserList(ctx context.Context) ([]*connecthub.User, error) {
	list, err := s.st.UserList(ctx)
	if err != nil {
		return nil, err
	}
	marks, err := s.st.OIDCLinkMarks(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range list {
		u.OIDCLinkAllowed = marks[u.Username]
	}
	return list, nil
}

// UserGet returns one user.
func (s *Service) UserGet(ctx context.Context, username string) (*connecthub.User, error) {
	u, err := s.st.UserGet(ctx, username)
	if err != nil {
		return nil, err
	}
	return u, s.withLinkMark(ctx, u)
}

// UserUpdate applies a patch in one store transaction. Disabling a user
// revokes its sessions and personal tokens in that transaction; lowering
// its role holds from its next request, because every request reads the
// role from the database.
//
// A patch that changes the link mark (AllowOIDCLink) and the user's fields
// writes both in that one transaction (UserUpdateLink), with one audit
// entry naming every change: any refusal (an unknown role, the last admin,
// a user already linked) changes nothing. A patch of the mark alone is
// OIDCAllowLink, which audits only a change.
func (s *Service) UserUpdate(ctx context.Context, username string, p UserPatch) (*connecthub.User, error) {
	link := p.AllowOIDCLink
	p.AllowOIDCLink = nil
	switch {
	case link != nil && p == (UserPatch{}):
		if err := s.OIDCAllowLink(ctx, username, *link); err != nil {
			return nil, err
		}
		return s.UserGet(ctx, username)
	case link != nil:
		return s.userUpdate(ctx, username, p, link)
	}
	u, err := s.userUpdate(ctx, username, p, nil)
	if err != nil {
		return nil, err
	}
	return u, s.withLinkMark(ctx, u)
}

// userUpdate is UserUpdate of the user's own fields and, when link is not
// nil, its link mark.
func (s *Service) userUpdate(ctx context.Context, username string, p UserPatch, link *bool) (*connecthub.User, error) {
	var role connecthub.Role
	if p.Role != nil {
		r, err := connecthub.ParseRole(*p.Role)
		if err != nil {
			return nil, err
		}
		role = r
	}
	if p.DisplayName != nil {
		if err := checkDisplayName(strings.TrimSpace(*p.DisplayName)); err != nil {
			return nil, err
		}
	}
	hash := ""
	if p.Password != nil {
		h, err := auth.HashPassword(*p.Password)
		if err != nil {
			return nil, err
		}
		hash = h
	}
	actx, audit := s.audited(ctx, "user.update", "user:"+username)
	update := s.st.UserUpdate
	if link != nil {
		update = s.st.UserUpdateLink
	}
	return update(actx, username, s.now(), func(u *connecthub.User) error {
		before := *u
		defer func() {
			audit.Changes = store.UserAuditChanges(&before, u)
			audit.Action = userAction(audit.Changes)
		}()
		if role != "" {
			u.Role = role
		}
		if p.DisplayName != nil {
			u.DisplayName = strings.TrimSpace(*p.DisplayName)
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if link != nil {
			u.OIDCLinkAllowed = *link
		}
		return nil
	})
}

// userAction names a user update by what it changed: user.set_role,
// user.disable, user.enable, user.password and user.oidc_link for one
// change, user.update for several (or none).
func userAction(changes []connecthub.AuditChange) string {
	if len(changes) != 1 {
		return "user.update"
	}
	switch c := changes[0]; {
	case c.Field == "role":
		return "user.set_role"
	case c.Field == "disabled" && c.After == "true":
		return "user.disable"
	case c.Field == "disabled":
		return "user.enable"
	case c.Field == "password":
		return "user.password"
	case c.Field == "oidc_link":
		return "user.oidc_link"
	}
	return "user.update"
}

// ChangeOwnPassword sets a user's password after checking the current
// one, for the "my account" page: a session left open on a shared screen
// must not be enough to take the account over.
func (s *Service) ChangeOwnPassword(ctx context.Context, username, current, next string) error {
	u, err := s.st.UserGet(ctx, username)
	if err != nil {
		return err
	}
	if !auth.VerifyPassword(u.PasswordHash, current) {
		return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "wrong_password", Field: "current_password",
			Message: "the current password is wrong"}
	}
	_, err = s.UserUpdate(ctx, username, UserPatch{Password: &next})
	return err
}

// errNoSuchLogin is the answer to a wrong username or password, or a
// disabled user: the same for all three, so that a guesser learns
// nothing about which usernames exist.
var errNoSuchLogin = &connecthub.Error{Kind: connecthub.KindUnauthorized, Code: "login_failed", Message: "wrong username or password"}

// UserAuthenticate checks a username and password and records the
// sign-in. An unknown username costs the same work as a wrong password.
func (s *Service) UserAuthenticate(ctx context.Context, username, password string) (*connecthub.User, error) {
	u, err := s.st.UserGet(ctx, username)
	switch {
	case connecthub.IsKind(err, connecthub.KindNotFound):
		auth.VerifyPassword("", password)
		return nil, errNoSuchLogin
	case err != nil:
		return nil, err
	}
	if !auth.VerifyPassword(u.PasswordHash, password) || u.Disabled {
		return nil, errNoSuchLogin
	}
	if err := s.st.UserLoggedIn(ctx, u.Username, s.now()); err != nil {
		return nil, err
	}
	return u, nil
}

// errUserGone refuses a credential whose user was disabled (or never
// existed): it is as good as no credential.
func errUserGone() error {
	return &connecthub.Error{Kind: connecthub.KindUnauthorized, Code: "user_disabled",
		Message: "the user of this credential is disabled or does not exist"}
}

// SessionPrincipal returns who a verified session acts for now: the
// break-glass admin, or its user with the role the user has at this
// moment (read from the database on every request, so a lowered role or
// a disable holds at once on every replica).
func (s *Service) SessionPrincipal(ctx context.Context, sessionID, user string, breakGlass bool) (*connecthub.Principal, error) {
	p := &connecthub.Principal{Kind: connecthub.PrincipalSession, User: user, SessionID: sessionID}
	if breakGlass {
		p.Role, p.BreakGlass = connecthub.RoleAdmin, true
		return p, nil
	}
	role, err := s.activeRole(ctx, user)
	if err != nil {
		return nil, err
	}
	p.Role = role
	return p, nil
}

// TokenPrincipal returns who a live API token acts for now: an
// admin-scope token is an admin, a personal token its owner with the
// owner's current role, a worker token nobody (it may call only the
// worker protocol).
func (s *Service) TokenPrincipal(ctx context.Context, t *connecthub.Token) (*connecthub.Principal, error) {
	p := &connecthub.Principal{Kind: connecthub.PrincipalToken, TokenName: t.Name, TokenID: t.ID}
	switch t.Scope {
	case connecthub.ScopeAdmin:
		p.Role = connecthub.RoleAdmin
	case connecthub.ScopeUser:
		role, err := s.activeRole(ctx, t.Owner)
		if err != nil {
			return nil, err
		}
		p.User, p.Role = t.Owner, role
	default:
		p.Kind = connecthub.PrincipalWorker
	}
	return p, nil
}

func (s *Service) activeRole(ctx context.Context, user string) (connecthub.Role, error) {
	u, err := s.st.UserGet(ctx, user)
	switch {
	case connecthub.IsKind(err, connecthub.KindNotFound):
		return "", errUserGone()
	case err != nil:
		return "", err
	case u.Disabled:
		return "", errUserGone()
	}
	return u.Role, nil
}
