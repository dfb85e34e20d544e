package connecthub

import "time"

// OIDCIdentity links a user to the account it has at an OpenID Connect
// issuer. The link, not the username the issuer reports, decides who
// signs in: an account renamed at the issuer is still the same user here,
// and a second account that happens to report the same name is not.
type OIDCIdentity struct {
	// Issuer is the issuer URL exactly as the ID token's iss claim has it.
	Issuer string `json:"issuer"`
	// Subject is the ID token's sub claim: the issuer's stable id of the
	// account.
	Subject   string    `json:"subject"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}
