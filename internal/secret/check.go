package secret

import (
	"crypto/subtle"
	"errors"
	"fmt"
)

// checkText is the known text a key check encrypts. Anything that decrypts
// a check to exactly this text holds the key that made it.
const checkText = "connecthub key check v1"

// ErrCheckFailed means a key check (see NewCheck) was not made with any key
// of the keyring: the key file is not the one the database's secrets were
// encrypted with.
var ErrCheckFailed = errors.New("the key check cannot be decrypted with this key file")

// NewCheck returns a key check: a Fernet token of a known text made with
// the first key. Stored beside the secrets, it lets a later start prove
// that its key file is the right one before it uses or writes any secret,
// even when no secret is stored yet.
func (k *Keyring) NewCheck() (string, error) {
	return k.Encrypt([]byte(checkText))
}

// VerifyCheck returns nil if some key of the keyring decrypts check to the
// known text, else an error matching ErrCheckFailed (and, when the token
// itself is the problem, ErrWrongKey, ErrTruncated or ErrMalformed too).
func (k *Keyring) VerifyCheck(check string) error {
	plain, err := k.Decrypt(check)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckFailed, err)
	}
	if subtle.ConstantTimeCompare(plain, []byte(checkText)) != 1 {
		return fmt.Errorf("%w: it decrypts to something other than the check text", ErrCheckFailed)
	}
	return nil
}
