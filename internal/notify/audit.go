package notify

import (
	"encoding/json"
	"slices"

	"github.com/connecthub/connecthub"
)

// cloneChannel copies a channel deeply enough that updating c leaves the
// copy as it was, for the audit entry's "before".
func cloneChannel(c *connecthub.Channel) *connecthub.Channel {
	out := *c
	if c.SMTP != nil {
		smtp := *c.SMTP
		smtp.To = slices.Clone(c.SMTP.To)
		out.SMTP = &smtp
	}
	return &out
}

// secretsChanged names the write-only parts of a channel that an update
// changed, comparing what was stored (old) with what c now holds: "query"
// (of the URL), "secret" (the signing secret) and "password" (SMTP).
// Their values are compared here, in memory, and never recorded.
func (s *Service) secretsChanged(old connecthub.ChannelSecret, c *connecthub.Channel) ([]string, error) {
	var now connecthub.ChannelSecret
	if c.SecretToken != "" {
		plain, err := s.Keyring.Decrypt(c.SecretToken)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(plain, &now); err != nil {
			return nil, err
		}
	}
	var out []string
	if now.Query != old.Query {
		out = append(out, "query")
	}
	if now.Secret != old.Secret {
		out = append(out, "secret")
	}
	if now.Password != old.Password {
		out = append(out, "password")
	}
	return out, nil
}
