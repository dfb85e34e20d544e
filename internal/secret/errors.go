package secret

import (
	"errors"
	"fmt"
)

// The errors Decrypt and its relatives return. Match them with errors.Is: the
// concrete errors add detail (the key file, what exactly is malformed) but
// never the token itself, which may be a secret pasted into the wrong field.
var (
	// ErrTruncated means the input starts like a Fernet token but is too
	// short or not block-aligned, which in practice means it was cut when it
	// was copied or stored (a column too narrow, a line wrapped and lost).
	// Its message is shown to users as is.
	ErrTruncated = errors.New("secret_cfg token looks truncated; re-enter secret_cfg")

	// ErrWrongKey means the token is well-formed but no key in the keyring
	// verifies it: it was made with another key, the key was removed from
	// the key file, or the token was altered. The concrete error names the
	// key file, because that is what an operator has to go and check.
	ErrWrongKey = errors.New("secret_cfg cannot be decrypted: wrong key, or the key was rotated away")

	// ErrMalformed means the input is not a Fernet token at all (bad base64,
	// wrong version byte), or it carries a valid signature but broken
	// contents, which only a faulty encryptor produces.
	ErrMalformed = errors.New("secret_cfg is not a valid Fernet token")
)

// wrongKeyError is ErrWrongKey with the key file's name in its message.
type wrongKeyError struct {
	source string
}

func (e *wrongKeyError) Error() string {
	if e.source == "" {
		return ErrWrongKey.Error()
	}
	return fmt.Sprintf("secret_cfg cannot be decrypted with the key(s) in %s: wrong key, or the key was rotated away", e.source)
}

// Is makes errors.Is(err, ErrWrongKey) true.
func (e *wrongKeyError) Is(target error) bool { return target == ErrWrongKey }

// malformed returns an error matching ErrMalformed with a reason appended.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
