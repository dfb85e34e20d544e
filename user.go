package connecthub

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Role is what a person (or a token acting for one) may do. Roles are
// ordered: each one may do everything the one below it may.
type Role string

// The roles, from least to most.
const (
	// RoleViewer reads everything but secret values.
	RoleViewer Role = "viewer"
	// RoleOperator also runs jobs now, retries and cancels runs,
	// enables and disables jobs, and stops and starts nodes.
	RoleOperator Role = "operator"
	// RoleAdmin also creates, edits and deletes jobs, tokens and users.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from least to most, for forms and help texts.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

// rank orders the roles; an unknown role ranks below every known one, so
// that it is never mistaken for a privilege.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a holder of r may do what needs need. An unknown
// role allows nothing, and nothing is allowed by a need that is no role.
func (r Role) Allows(need Role) bool { return r.Valid() && need.Valid() && r.rank() >= need.rank() }

// ParseRole reads a role name (case and surrounding space ignored); an
// unknown name is a KindInvalid error on field "role".
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", FieldError("role", "", "role must be viewer, operator or admin, not %q", s)
	}
	return r, nil
}

// ErrRoleNeeded is the error of a request its principal's role does not
// allow: a 403 naming the role that would.
func ErrRoleNeeded(need Role, what string) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden",
		Message: fmt.Sprintf("%s needs the %s role", what, need)}
}

// ScopeUser is the scope of a personal API token: it acts for its owner,
// with the owner's role at the time of each request.
const ScopeUser = "user"

// User is a person who signs in to ConnectHub. Its password is kept only
// as a slow, salted hash (PasswordHash), which no API returns.
type User struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        Role   `json:"role"`
	Disabled    bool   `json:"disabled"`
	// PasswordHash is the encoded argon2id hash, or "" for a user who
	// can sign in only through single sign-on.
	PasswordHash string     `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLoginAt  *time.Time `json:"last_login_at"`
	// OIDCLinkAllowed: an admin allowed the next single sign-on (OpenID
	// Connect) under this username to link that account to this user,
	// once. It is not a column of the user: the server fills it in when
	// it answers about users.
	OIDCLinkAllowed bool `json:"oidc_link_allowed"`
}

// usernamePattern is what a username may hold: letters, digits and the
// punctuation of e-mail addresses and directory names, so that it reads
// the same in a URL path, a log line and a CSV cell.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)

// CheckUsername reports whether name is a valid username.
func CheckUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return FieldError("username", "", "username must be 1-64 characters of A-Z a-z 0-9 . _ @ + -, starting with a letter or digit")
	}
	return nil
}

// MaxDisplayName bounds a display name, in bytes.
const MaxDisplayName = 128

// Principal kinds: how a request proved who it is.
const (
	PrincipalAdminToken = "admin_token" // the configured admin token
	PrincipalToken      = "token"       // an admin-scope or personal API token
	PrincipalWorker     = "worker"      // a worker-scope API token
	PrincipalSession    = "session"     // a signed-in browser
)

// Principal is who a request acts for, with the role it has now. A
// personal token's or a session's role is its user's role at the time of
// the request, so that lowering a role takes effect at once.
type Principal struct {
	Kind string `json:"kind"`
	// User is the signed-in or token-owning user; "" for the admin token
	// and admin- or worker-scope tokens.
	User string `json:"user,omitempty"`
	// TokenName names the API token, when one was used.
	TokenName string `json:"token_name,omitempty"`
	// TokenID and SessionID name the credential, so that a person can
	// tell their own tokens and sessions from others'.
	TokenID   string `json:"-"`
	SessionID string `json:"-"`
	Role      Role   `json:"role"`
	// BreakGlass marks the bootstrap login (and the admin token): the
	// configured credentials that work without any user in the database.
	BreakGlass bool `json:"break_glass,omitempty"`
	// Client is the address the request came from, as the server's
	// trusted proxies let it see it, for the audit log.
	Client string `json:"-"`
}

// Name is how the principal is shown: the user, else the token's name,
// else what kind of credential it used.
func (p *Principal) Name() string {
	switch {
	case p == nil:
		return ""
	case p.User != "":
		return p.User
	case p.TokenName != "":
		return "token:" + p.TokenName
	}
	return p.Kind
}

// Allows reports whether the principal's role allows need; a nil
// principal allows nothing.
func (p *Principal) Allows(need Role) bool { return p != nil && p.Role.Allows(need) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for the layers below the transport
// that decide by role on what a request's body asks for (only an admin may
// save a shell job).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries, or nil for a call that
// no request made (the scheduler, a CLI command on the database).
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
