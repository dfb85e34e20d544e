package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub/internal/store"
)

// secretsPage returns the next page of non-empty tokens of c after the row
// id after, in id order (the primary key, "C" collation: bytewise).
func secretsPage(ctx context.Context, tx pgx.Tx, c store.SecretColumn, after string) (ids, tokens []string, err error) {
	query := fmt.Sprintf(`SELECT id, %[2]s FROM %[1]s WHERE %[2]s <> '' AND id > $1 ORDER BY id LIMIT $2`, c.Table, c.Column)
	rows, err := tx.Query(ctx, query, after, store.SecretPageSize)
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
	if err := store.CheckSecretTokens(fn); err != nil {
		return err
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
	for _, c := range store.SecretColumns {
		err := store.WalkPages(func(after string) (int, string, error) {
			ids, tokens, err := secretsPage(ctx, tx, c, after)
			if err != nil {
				return 0, "", err
			}
			for i := range ids {
				if err := fn(c.Kind, ids[i], tokens[i]); err != nil {
					return 0, "", err
				}
			}
			return len(ids), last(ids), nil
		})
		if err != nil {
			return err
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
	if err := store.CheckSecretsRewrite(rewrite); err != nil {
		return 0, 0, err
	}
	var counts [len(store.SecretColumns)]int
	err = s.tx(ctx, func(tx pgx.Tx) error {
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
func rewriteSecrets(ctx context.Context, tx pgx.Tx, c store.SecretColumn, rewrite func(string) (string, error)) (int, error) {
	update := fmt.Sprintf(`UPDATE %[1]s AS t SET %[2]s = u.new
		FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, old, new)
		WHERE t.id = u.id AND t.%[2]s = u.old`, c.Table, c.Column)
	changed := 0
	err := store.WalkPages(func(after string) (int, string, error) {
		ids, tokens, err := secretsPage(ctx, tx, c, after)
		if err != nil {
			return 0, "", err
		}
		var upIDs, upOld, upNew []string
		for i, id := range ids {
			next, err := store.RewriteToken(c.Kind, id, tokens[i], rewrite)
			if err != nil {
				return 0, "", err
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
				return 0, "", dbErr(err)
			}
			changed += int(tag.RowsAffected())
		}
		return len(ids), last(ids), nil
	})
	return changed, err
}

// last returns the last of ids, "" when there is none.
func last(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}
