package connecthub

import "time"

// Session is a login to the admin UI, kept in the database so that a
// logout, an expiry or a revocation holds on every replica and across
// restarts. The browser's cookie holds a random secret; only its SHA-256
// (Hash) is stored, and no API ever returns it: a session is named by its
// ID.
type Session struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Hash       string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Client is the address the login came from, as the server's trusted
	// proxies let it see it; UserAgent is what the browser called itself.
	// Both help an operator recognise a session, neither is trusted.
	Client    string `json:"client"`
	UserAgent string `json:"user_agent"`
	// BreakGlass marks a login with the bootstrap credentials
	// (CONNECTHUB_ADMIN_USERNAME and _PASSWORD): an admin that needs no
	// user row, for when nobody else can sign in. Any other session acts
	// with the role its user has at the time of each request.
	BreakGlass bool `json:"break_glass"`
}
