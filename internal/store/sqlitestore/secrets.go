package sqlitestore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// secretsPage is store.SecretPage on q: the next page of non-empty tokens
// of c after the row id after, in id order (the primary key, so each page
// is an index range).
func secretsPage(ctx context.Context, q sqlx.QueryerContext) store.SecretPage {
	return func(c store.SecretColumn, after string) ([]store.StoredToken, error) {
		var page []store.StoredToken
		query := fmt.Sprintf(`SELECT id, %[2]s AS token FROM %[1]s WHERE %[2]s <> '' AND id > ? ORDER BY id LIMIT ?`,
			c.Table, c.Column)
		if err := sqlx.SelectContext(ctx, q, &page, query, after, store.SecretPageSize); err != nil {
			return nil, dbErr(err)
		}
		return page, nil
	}
}

// SecretTokens implements store.SecretStore with store.WalkSecretTokens.
// The walk is one read transaction, so it sees one snapshot; writers are
// not held up (WAL).
func (s *Store) SecretTokens(ctx context.Context, fn func(kind, id, token string) error) error {
	if err := store.CheckSecretTokens(fn); err != nil {
		return err
	}
	return s.read(ctx, func(tx *sqlx.Tx) error {
		return store.WalkSecretTokens(secretsPage(ctx, tx), fn)
	})
}

// SecretsRewrite implements store.SecretStore with store.RewriteSecrets.
// The whole rewrite is one write transaction: other writers wait for it (by
// the busy timeout, in other processes), and a failure anywhere leaves
// every token as it was. The old token is part of each update's condition
// as store.RewriteSecrets wants; the write transaction already excludes
// other writers, so here it never skips a row.
func (s *Store) SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if err := store.CheckSecretsRewrite(rewrite); err != nil {
		return 0, 0, err
	}
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		jobs, runs, err = store.RewriteSecrets(secretsPage(ctx, tx), func(c store.SecretColumn, changes []store.TokenChange) (int, error) {
			update := fmt.Sprintf(`UPDATE %[1]s SET %[2]s = ? WHERE id = ? AND %[2]s = ?`, c.Table, c.Column)
			changed := 0
			for _, ch := range changes {
				res, err := tx.ExecContext(ctx, update, ch.New, ch.ID, ch.Old)
				if err != nil {
					return changed, dbErr(err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return changed, dbErr(err)
				}
				changed += int(n)
			}
			return changed, nil
		}, rewrite)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return jobs, runs, nil
}
