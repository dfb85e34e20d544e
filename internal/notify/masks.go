package notify

import (
	"context"
	"encoding/json"

	"github.com/connecthub/connecthub"
)

// ChannelLister lists the channels; store.AlertStore implements it.
type ChannelLister interface {
	ChannelList(ctx context.Context) ([]*connecthub.Channel, error)
}

// SecretValues returns the write-only values of every channel (signing
// secrets, SMTP passwords and the values of URL queries such as access
// tokens), which runs must not store in clear: the server masks them in
// every run's texts, like its own admin token. A channel whose secret
// cannot be opened is left out, since what cannot be read cannot be
// matched either.
func SecretValues(ctx context.Context, st ChannelLister, keys Decrypter) ([]string, error) {
	channels, err := st.ChannelList(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range channels {
		if ch.SecretToken == "" || keys == nil {
			continue
		}
		plain, err := keys.Decrypt(ch.SecretToken)
		if err != nil {
			continue
		}
		t := Target{Channel: ch}
		if json.Unmarshal(plain, &t.Secret) != nil {
			continue
		}
		for _, v := range t.secrets() {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out, nil
}
