package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// fingerprintLabel separates the fingerprint key from every other use of
// the Fernet key: the key is derived as HMAC-SHA256(Fernet key, label).
const fingerprintLabel = "connecthub secret fingerprint v1"

// fingerprintKey derives the key of fingerprints from the first (the
// encrypting) Fernet key.
func (k *Keyring) fingerprintKey() []byte {
	raw := append(k.keys[0].signing[:], k.keys[0].encryption[:]...)
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(fingerprintLabel))
	return m.Sum(nil)
}

// FingerprintJSON decrypts a secret_cfg token and returns a keyed
// fingerprint of each value: hex HMAC-SHA256, under a key derived from
// the encrypting key, of the key name, a zero byte and the value's JSON.
// keyID names the derived key (the first 8 hex digits of its HMAC of
// "key id"), so that fingerprints made before and after a key rotation
// are known not to be comparable.
//
// A plain hash would be the wrong tool: a short secret is found from its
// SHA-256 by hashing guesses, while an HMAC needs the server's key. The
// fingerprints only tell whether a value changed; they never leave the
// server as anything but "changed" or "unchanged" in a diff.
func (k *Keyring) FingerprintJSON(token string) (keyID string, values map[string]string, err error) {
	obj, err := k.DecryptJSON(token)
	if err != nil {
		return "", nil, err
	}
	key := k.fingerprintKey()
	id := hmac.New(sha256.New, key)
	id.Write([]byte("key id"))
	keyID = hex.EncodeToString(id.Sum(nil))[:8]
	values = make(map[string]string, len(obj))
	for name, v := range obj {
		text, err := json.Marshal(v)
		if err != nil {
			return "", nil, fmt.Errorf("secret_cfg value of %q cannot be encoded", name)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(name))
		m.Write([]byte{0})
		m.Write(text)
		values[name] = hex.EncodeToString(m.Sum(nil))
	}
	return keyID, values, nil
}
