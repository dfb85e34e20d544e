package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub/internal/store"
)

// secretsPage is store.SecretPage inside tx: the next page of non-empty
// tokens of c after the row id after, in id order (the primary key, "C"
// collation: bytewise).
func secretsPage(ctx context.Context, tx pgx.Tx) store.SecretPage {
	return func(c store.SecretColumn, after string) ([]store.StoredToken, error) {
		query := fmt.Sprintf(`SELECT id, %[2]s FROM %[1]s WHERE %[2]s <> '' AND id > $1 ORDER BY id LIMIT $2`, c.Table, c.Column)
		rows, err := tx.Query(ctx, query, after, store.SecretPageSize)
		if err != nil {
			return nil, dbErr(err)
		}
		page, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.StoredToken])
		return page, dbErr(err)
	}
}

// SecretTokens implements store.SecretStore with store.WalkSecretTokens.
// The walk is one read-only REPEATABLE READ transaction, so its pages and
// both tables come from one snapshot; it takes no row locks and holds up no
// writer.
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
	if err := store.WalkSecretTokens(secretsPage(ctx, tx), fn); err != nil {
		return err
	}
	return dbErr(tx.Commit(ctx))
}

// SecretsRewrite implements store.SecretStore with store.RewriteSecrets. It
// runs in one READ COMMITTED transaction while servers go on working: each
// page is read, rewritten in memory and written back by one UPDATE whose
// condition is the old token, so a job whose secret an operator changed
// meanwhile keeps the new secret (the UPDATE waits for that writer's
// commit, then skips the row). Rows it changed stay locked until the end,
// which only delays writers of those rows; claims skip locked rows anyway.
func (s *Store) SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if err := store.CheckSecretsRewrite(rewrite); err != nil {
		return 0, 0, err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		jobs, runs, err = store.RewriteSecrets(secretsPage(ctx, tx), func(c store.SecretColumn, changes []store.TokenChange) (int, error) {
			ids, olds, news := make([]string, len(changes)), make([]string, len(changes)), make([]string, len(changes))
			for i, ch := range changes {
				ids[i], olds[i], news[i] = ch.ID, ch.Old, ch.New
			}
			tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %[1]s AS t SET %[2]s = u.new
				FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, old, new)
				WHERE t.id = u.id AND t.%[2]s = u.old`, c.Table, c.Column), ids, olds, news)
			return int(tag.RowsAffected()), dbErr(err)
		}, rewrite)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return jobs, runs, nil
}
