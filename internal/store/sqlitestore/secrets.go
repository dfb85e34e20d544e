package sqlitestore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// secretColumn names a column that holds Fernet tokens.
type secretColumn struct {
	kind   string // as SecretTokens reports it
	table  string
	column string
}

// secretColumns are all the places a token is stored, in walk order.
var secretColumns = [...]secretColumn{
	{store.SecretKindJob, "jobs", "secret_cfg"},
	{store.SecretKindRun, "runs", "snapshot_secret"},
}

// secretPageSize bounds how many tokens are held in memory at once: a
// database may keep millions of runs, each with its snapshot's token.
const secretPageSize = 500

// storedToken is one token and the id of its row.
type storedToken struct {
	ID    string `db:"id"`
	Token string `db:"token"`
}

// secretsPage returns the next page of non-empty tokens of c after the row
// id after, in id order (the primary key, so each page is an index range).
func secretsPage(ctx context.Context, q sqlx.QueryerContext, c secretColumn, after string) ([]storedToken, error) {
	var page []storedToken
	query := fmt.Sprintf(`SELECT id, %[2]s AS token FROM %[1]s WHERE %[2]s <> '' AND id > ? ORDER BY id LIMIT ?`,
		c.table, c.column)
	if err := sqlx.SelectContext(ctx, q, &page, query, after, secretPageSize); err != nil {
		return nil, dbErr(err)
	}
	return page, nil
}

// SecretTokens implements store.SecretStore. The walk is one read
// transaction, so it sees one snapshot; writers are not held up (WAL).
func (s *Store) SecretTokens(ctx context.Context, fn func(kind, id, token string) error) error {
	if fn == nil {
		return connecthub.FieldError("fn", "", "SecretTokens needs a function to call")
	}
	return s.read(ctx, func(tx *sqlx.Tx) error {
		for _, c := range secretColumns {
			for after := ""; ; {
				page, err := secretsPage(ctx, tx, c, after)
				if err != nil {
					return err
				}
				for _, t := range page {
					if err := fn(c.kind, t.ID, t.Token); err != nil {
						return err
					}
				}
				if len(page) < secretPageSize {
					break
				}
				after = page[len(page)-1].ID
			}
		}
		return nil
	})
}

// SecretsRewrite implements store.SecretStore. The whole rewrite is one
// write transaction: other writers wait for it (by the busy timeout, in
// other processes), and a failure anywhere leaves every token as it was.
func (s *Store) SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if rewrite == nil {
		return 0, 0, connecthub.FieldError("rewrite", "", "SecretsRewrite needs a rewrite function")
	}
	var counts [len(secretColumns)]int
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		for i, c := range secretColumns {
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
func rewriteSecrets(ctx context.Context, tx *sqlx.Tx, c secretColumn, rewrite func(string) (string, error)) (int, error) {
	// The old token is part of the condition, so a row is only ever
	// changed from the value rewrite saw. The write transaction already
	// excludes other writers; the condition keeps the rule the same as in
	// the PostgreSQL driver, where it matters.
	update := fmt.Sprintf(`UPDATE %[1]s SET %[2]s = ? WHERE id = ? AND %[2]s = ?`, c.table, c.column)
	changed := 0
	for after := ""; ; {
		page, err := secretsPage(ctx, tx, c, after)
		if err != nil {
			return 0, err
		}
		for _, t := range page {
			next, err := rewriteToken(c.kind, t, rewrite)
			if err != nil {
				return 0, err
			}
			if next == t.Token {
				continue
			}
			res, err := tx.ExecContext(ctx, update, next, t.ID, t.Token)
			if err != nil {
				return 0, dbErr(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, dbErr(err)
			}
			changed += int(n)
		}
		if len(page) < secretPageSize {
			return changed, nil
		}
		after = page[len(page)-1].ID
	}
}

// rewriteToken calls rewrite on one token and checks its answer. Errors
// name the row, never the token.
func rewriteToken(kind string, t storedToken, rewrite func(string) (string, error)) (string, error) {
	next, err := rewrite(t.Token)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", kind, t.ID, err)
	}
	if next == "" {
		return "", connecthub.Errorf(connecthub.KindInvalid,
			"%s %s: the rewrite of its secret token is empty; a secret is never dropped by a rewrite", kind, t.ID)
	}
	return next, nil
}
