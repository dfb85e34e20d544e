package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
)

// keyMismatchError is the start-up refusal of a key file that is not the
// one the database's secrets were encrypted with: missing, replaced or
// wrong. Its message says what to do; the cause (a missing file, a failed
// decryption) stays reachable through errors.Is.
type keyMismatchError struct {
	path  string
	cause error
}

func (e *keyMismatchError) Error() string {
	return fmt.Sprintf("the database was encrypted with another key; restore %s from your backup (see docs/operations.md)", e.path)
}

func (e *keyMismatchError) Unwrap() error { return e.cause }

// openKeys loads the key file at path and proves that it is the key of the
// secrets in st before anything uses it, so that a lost or replaced key
// file stops the node instead of making every run with secrets fail.
//
// The proof is the key check stored in the database: a token of a known
// text that the first start writes. A database from before key checks is
// proved by its secrets instead (one that decrypts proves the key, one that
// is made with another key disproves it) and then gets its check. A key
// file is created only when the database holds neither a check nor a
// secret: a new key over existing secrets would only hide their loss.
func openKeys(ctx context.Context, path string, st store.SecretStore, log *slog.Logger) (*secret.Keyring, error) {
	check, err := st.KeyCheck(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the key check: %w", err)
	}
	var sample string // a secret that decides, when there is no check yet
	if check == "" {
		if sample, err = decidingSecret(ctx, st, path); err != nil {
			return nil, err
		}
	}
	var keys *secret.Keyring
	if check == "" && sample == "" {
		var created bool
		if keys, created, err = secret.LoadOrCreate(path); err != nil {
			return nil, err
		}
		if created {
			log.Warn("generated a new Fernet key: back it up with the database, secrets are unreadable without it", "path", path)
		}
	} else {
		keys, err = secret.Load(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &keyMismatchError{path: path, cause: err}
		}
		if err != nil {
			return nil, err
		}
	}
	for _, w := range keys.Warnings() {
		log.Warn(w)
	}
	if check != "" {
		if err := keys.VerifyCheck(check); err != nil {
			return nil, &keyMismatchError{path: path, cause: err}
		}
		return keys, nil
	}
	if sample != "" {
		if _, err := keys.Decrypt(sample); err != nil {
			return nil, &keyMismatchError{path: path, cause: err}
		}
	}
	mine, err := keys.NewCheck()
	if err != nil {
		return nil, err
	}
	// Another node may have written its check since we read: the stored
	// one is the one to pass.
	stored, err := st.KeyCheckInit(ctx, mine)
	if err != nil {
		return nil, fmt.Errorf("write the key check: %w", err)
	}
	if stored != mine {
		if err := keys.VerifyCheck(stored); err != nil {
			return nil, &keyMismatchError{path: path, cause: err}
		}
	}
	return keys, nil
}

// errDecided stops the walk of decidingSecret at the first useful token.
var errDecided = errors.New("found a deciding secret")

// decidingSecret returns a stored secret that tells whether the key file at
// path is the right one, "" when the database holds none. When the key file
// can be read, it is the first secret that it decrypts or that is made
// with another key; a truncated or malformed token proves nothing and is
// passed over. Without a readable key file, any secret will do: the start
// has to refuse either way.
func decidingSecret(ctx context.Context, st store.SecretStore, path string) (string, error) {
	keys, _ := secret.Load(path) // nil when missing or unreadable
	var found string
	err := st.SecretTokens(ctx, func(_, _, token string) error {
		if keys != nil {
			if _, err := keys.Decrypt(token); err != nil && !errors.Is(err, secret.ErrWrongKey) {
				return nil
			}
		}
		found = token
		return errDecided
	})
	if err != nil && !errors.Is(err, errDecided) {
		return "", fmt.Errorf("read the stored secrets: %w", err)
	}
	return found, nil
}
