package server

import (
	"context"
	"log/slog"

	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
)

// OpenKeys loads the key file at path and proves it is the key of the
// secrets in st, as a start does (creating it, with its key check, only
// for a database that holds neither): for the commands that save secrets
// without serving, such as `import python`, so that they encrypt with the
// one key every server will use.
func OpenKeys(ctx context.Context, path string, st store.SecretStore, log *slog.Logger) (*secret.Keyring, error) {
	return openKeys(ctx, path, st, log)
}
