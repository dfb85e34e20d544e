package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

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

// secretPageSize bounds how many tokens are held in memory at once and how
// many rows one UPDATE statement changes.
const secretPageSize = 500

// secretsPage returns the next page of non-empty tokens of c after the row
// id after, in id order (the primary key, "C" collation: bytewise).
func secretsPage(ctx context.Context, tx pgx.Tx, c secretColumn, after string) (ids, tokens []string, err error) {
	query := fmt.Sprintf(`SELECT id, %[2]s FROM %[1]s WHERE %[2]s <> '' AND id > $1 ORDER BY id LIMIT $2`, c.table, c.column)
	rows, err := tx.Query(ctx, query, after, secretPageSize)
	if err != nil {
		return nil, nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, token string
		if err := rows.Scan(&id, &token); err != nil {
			return nil, nil, dbErr(err)
		}
		ids = append(ids, id)
		tokens = append(tokens, token)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr(err)
	}
	return ids, tokens, nil
}

// SecretTokens implements store.SecretStore. The walk is one read-only
// REPEATABLE READ transaction, so its pages and both tables come from one
// snapshot; it takes no row locks and holds up no writer.
func (s *Store) SecretTokens(ctx context.Context, fn func(kind, id, token string) error) error {
	if fn == nil {
		return connecthub.FieldError("fn", "", "SecretTokens needs a function to call")
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, c := range secretColumns {
		for after := ""; ; {
			ids, tokens, err := secretsPage(ctx, tx, c, after)
			if err != nil {
				return err
			}
			for i := range ids {
				if err := fn(c.kind, ids[i], tokens[i]); err != nil {
					return err
				}
			}
			if len(ids) < secretPageSize {
				break
			}
			after = ids[len(ids)-1]
		}
	}
	return dbErr(tx.Commit(ctx))
}

// SecretsRewrite implements store.SecretStore. It runs in one READ
// COMMITTED transaction while servers go on working: each page is read,
// rewritten in memory and written back by one UPDATE whose condition is the
// old token, so a job whose secret an operator changed meanwhile keeps the
// new secret (the UPDATE waits for that writer's commit, then skips the
// row). Rows it changed stay locked until the end, which only delays
// writers of those rows; claims skip locked rows anyway.
func (s *Store) SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if rewrite == nil {
		return 0, 0, connecthub.FieldError("rewrite", "", "SecretsRewrite needs a rewrite function")
	}
	var counts [len(secretColumns)]int
	err = s.tx(ctx, func(tx pgx.Tx) error {
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
func rewriteSecrets(ctx context.Context, tx pgx.Tx, c secretColumn, rewrite func(string) (string, error)) (int, error) {
	update := fmt.Sprintf(`UPDATE %[1]s AS t SET %[2]s = u.new
		FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, old, new)
		WHERE t.id = u.id AND t.%[2]s = u.old`, c.table, c.column)
	changed := 0
	for after := ""; ; {
		ids, tokens, err := secretsPage(ctx, tx, c, after)
		if err != nil {
			return 0, err
		}
		var upIDs, upOld, upNew []string
		for i, id := range ids {
			next, err := rewriteToken(c.kind, id, tokens[i], rewrite)
			if err != nil {
				return 0, err
			}
			if next != tokens[i] {
				upIDs = append(upIDs, id)
				upOld = append(upOld, tokens[i])
				upNew = append(upNew, next)
			}
		}
		if len(upIDs) > 0 {
			tag, err := tx.Exec(ctx, update, upIDs, upOld, upNew)
			if err != nil {
				return 0, dbErr(err)
			}
			changed += int(tag.RowsAffected())
		}
		if len(ids) < secretPageSize {
			return changed, nil
		}
		after = ids[len(ids)-1]
	}
}

// rewriteToken calls rewrite on one token and checks its answer. Errors
// name the row, never the token.
func rewriteToken(kind, id, token string, rewrite func(string) (string, error)) (string, error) {
	next, err := rewrite(token)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", kind, id, err)
	}
	if next == "" {
		return "", connecthub.Errorf(connecthub.KindInvalid,
			"%s %s: the rewrite of its secret token is empty; a secret is never dropped by a rewrite", kind, id)
	}
	return next, nil
}
