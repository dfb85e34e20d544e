package sqlitestore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// storedToken is one token and the id of its row.
type storedToken struct {
	ID    string `db:"id"`
	Token string `db:"token"`
}

// secretsPage returns the next page of non-empty tokens of c after the row
// id after, in id order (the primary key, so each page is an index range).
func secretsPage(ctx context.Context, q sqlx.QueryerContext, c store.SecretColumn, after string) ([]storedToken, error) {
	var page []storedToken
	query := fmt.Sprintf(`SELECT id, %[2]s AS token FROM %[1]s WHERE %[2]s <> '' AND id > ? ORDER BY id LIMIT ?`,
		c.Table, c.Column)
	if err := sqlx.SelectContext(ctx, q, &page, query, after, store.SecretPageSize); err != nil {
		return nil, dbErr(err)
	}
	return page, nil
}

// SecretTokens implements store.SecretStore. The walk is one read
// transaction, so it sees one snapshot; writers are not held up (WAL).
func (s *Store) SecretTokens(ctx context.Context, fn func(kind, id, token string) error) error {
	if err := store.CheckSecretTokens(fn); err != nil {
		return err
	}
	return s.read(ctx, func(tx *sqlx.Tx) error {
		for _, c := range store.SecretColumns {
			err := store.WalkPages(func(after string) (int, string, error) {
				page, err := secretsPage(ctx, tx, c, after)
				if err != nil {
					return 0, "", err
				}
				for _, t := range page {
					if err := fn(c.Kind, t.ID, t.Token); err != nil {
						return 0, "", err
					}
				}
				return len(page), lastID(page), nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// SecretsRewrite implements store.SecretStore. The whole rewrite is one
// write transaction: other writers wait for it (by the busy timeout, in
// other processes), and a failure anywhere leaves every token as it was.
func (s *Store) SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if err := store.CheckSecretsRewrite(rewrite); err != nil {
		return 0, 0, err
	}
	var counts [len(store.SecretColumns)]int
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		for i, c := range store.SecretColumns {
			n, err := rewriteSecrets(ctx, tx, c, rewrite)
			if err != nil {
				return err
			}
			counts[i] = n
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return counts[0], counts[1], nil
}

// rewriteSecrets rewrites the tokens of one column page by page inside tx
// and returns how many rows it changed.
func rewriteSecrets(ctx context.Context, tx *sqlx.Tx, c store.SecretColumn, rewrite func(string) (string, error)) (int, error) {
	// The old token is part of the condition, so a row is only ever
	// changed from the value rewrite saw. The write transaction already
	// excludes other writers; the condition keeps the rule the same as in
	// the PostgreSQL driver, where it matters.
	update := fmt.Sprintf(`UPDATE %[1]s SET %[2]s = ? WHERE id = ? AND %[2]s = ?`, c.Table, c.Column)
	changed := 0
	err := store.WalkPages(func(after string) (int, string, error) {
		page, err := secretsPage(ctx, tx, c, after)
		if err != nil {
			return 0, "", err
		}
		for _, t := range page {
			next, err := store.RewriteToken(c.Kind, t.ID, t.Token, rewrite)
			if err != nil {
				return 0, "", err
			}
			if next == t.Token {
				continue
			}
			res, err := tx.ExecContext(ctx, update, next, t.ID, t.Token)
			if err != nil {
				return 0, "", dbErr(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, "", dbErr(err)
			}
			changed += int(n)
		}
		return len(page), lastID(page), nil
	})
	return changed, err
}

// lastID returns the id of the last token of page, "" when it is empty.
func lastID(page []storedToken) string {
	if len(page) == 0 {
		return ""
	}
	return page[len(page)-1].ID
}
