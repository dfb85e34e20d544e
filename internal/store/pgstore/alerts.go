package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// listQuerier is what a pool and a transaction both offer for a list.
type listQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryList runs a query and scans every row; the slice is empty, never
// nil, when there is no row.
func queryList[T any](ctx context.Context, q listQuerier, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if list == nil {
		list = []T{}
	}
	return list, dbErr(err)
}

// poolList is queryList on the store's pool.
func poolList[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scan, query, args...)
}

// checkAlertText refuses rule text PostgreSQL cannot store, naming the
// field.
func checkAlertText(r *connecthub.AlertRule) error {
	for _, f := range []struct{ name, v string }{{"name", r.Name}, {"match.job", r.Match.Job},
		{"match.handler", r.Match.Handler}, {"match.queue", r.Match.Queue}, {"threshold", r.Threshold}} {
		if !storable(f.v) {
			return connecthub.FieldError(f.name, "", "%s must be valid UTF-8 without NUL bytes", f.name)
		}
	}
	return nil
}

// ChannelCreate implements store.AlertStore.
func (s *Store) ChannelCreate(ctx context.Context, c *connecthub.Channel) error {
	smtp, err := store.PrepareChannel(c)
	if err != nil {
		return err
	}
	if !storable(c.URL) || !storable(c.SecretToken) {
		return connecthub.FieldError("url", "", "url must be valid UTF-8 without NUL bytes")
	}
	// One transaction, so that the audit entry of an audited change
	// commits with it.
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO notify_channels (`+store.ChannelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.Name, c.Type, c.Language, c.URL, smtp, c.SecretToken, utc(c.CreatedAt), utc(c.UpdatedAt))
		if isCode(err, codeUniqueViolation) {
			return store.ChannelExists(c.Name, err)
		}
		return dbErr(err)
	})
}

// ChannelGet implements store.AlertStore.
func (s *Store) ChannelGet(ctx context.Context, name string) (*connecthub.Channel, error) {
	if !storable(name) {
		return nil, connecthub.NotFound("channel", name)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	c, err := scanChannel(db.QueryRow(ctx, `SELECT `+store.ChannelColumns+` FROM notify_channels WHERE id = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, connecthub.NotFound("channel", name)
	}
	return c, dbErr(err)
}

// ChannelList implements store.AlertStore.
func (s *Store) ChannelList(ctx context.Context) ([]*connecthub.Channel, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scanChannel, `SELECT `+store.ChannelColumns+` FROM notify_channels ORDER BY id`)
}

// ChannelUpdate implements store.AlertStore with store.UpdateChannel; the
// row is locked while update runs.
func (s *Store) ChannelUpdate(ctx context.Context, name string, update func(*connecthub.Channel) error) (*connecthub.Channel, error) {
	if !storable(name) {
		return nil, connecthub.NotFound("channel", name)
	}
	return store.UpdateChannel(s.inTx(ctx), name, update, func(tx pgx.Tx) (*connecthub.Channel, error) {
		c, err := scanChannel(tx.QueryRow(ctx, `SELECT `+store.ChannelColumns+` FROM notify_channels WHERE id = $1 FOR UPDATE`, name))
		return c, notFound(err, "channel", name)
	}, func(tx pgx.Tx, c *connecthub.Channel, smtp *string) error {
		if !storable(c.URL) || !storable(c.SecretToken) {
			return connecthub.FieldError("url", "", "url must be valid UTF-8 without NUL bytes")
		}
		_, err := tx.Exec(ctx, `UPDATE notify_channels SET type = $1, language = $2, url = $3, smtp = $4, secret = $5,
			updated_at = $6 WHERE id = $7`, c.Type, c.Language, c.URL, smtp, c.SecretToken, utc(c.UpdatedAt), name)
		return dbErr(err)
	})
}

// ChannelDelete implements store.AlertStore.
func (s *Store) ChannelDelete(ctx context.Context, name string) error {
	if !storable(name) {
		return connecthub.NotFound("channel", name)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM notify_channels WHERE id = $1`, name)
		switch {
		case isCode(err, codeForeignKeyViolation):
			return store.ChannelInUse(name)
		case err != nil:
			return dbErr(err)
		case tag.RowsAffected() == 0:
			return connecthub.NotFound("channel", name)
		}
		return nil
	})
}

func scanChannel(row pgx.Row) (*connecthub.Channel, error) {
	var (
		c    connecthub.Channel
		smtp []byte
	)
	if err := row.Scan(&c.Name, &c.Type, &c.Language, &c.URL, &smtp, &c.SecretToken, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.HasSecret = c.SecretToken != ""
	return &c, store.DecodeChannelSMTP(&c, smtp)
}

const ruleColumns = `id, name, enabled, match_job, match_handler, match_queue, event, threshold, quiet_ns, created_at, updated_at,
	(SELECT COALESCE(json_agg(channel ORDER BY pos), '[]') FROM alert_rule_channels c WHERE c.rule_id = alert_rules.id)`

// AlertRuleCreate implements store.AlertStore.
func (s *Store) AlertRuleCreate(ctx context.Context, r *connecthub.AlertRule) error {
	if err := store.PrepareAlertRule(r); err != nil {
		return err
	}
	if err := checkAlertText(r); err != nil {
		return err
	}
	id, err := s.ids.Next(r.CreatedAt)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO alert_rules (id, name, enabled, match_job, match_handler, match_queue,
			event, threshold, quiet_ns, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			id, r.Name, r.Enabled, r.Match.Job, r.Match.Handler, r.Match.Queue, r.Event, r.Threshold,
			int64(r.QuietPeriod), utc(r.CreatedAt), utc(r.UpdatedAt)); err != nil {
			return dbErr(err)
		}
		return putRuleChannels(ctx, tx, id, r.Channels)
	})
	if err == nil {
		r.ID = id
	}
	return err
}

func putRuleChannels(ctx context.Context, tx pgx.Tx, id string, channels []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM alert_rule_channels WHERE rule_id = $1`, id); err != nil {
		return dbErr(err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO alert_rule_channels (rule_id, channel, pos)
		SELECT $1, c, o - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t(c, o)`, id, channels)
	if isCode(err, codeForeignKeyViolation) {
		return store.UnknownRuleChannel()
	}
	return dbErr(err)
}

// AlertRuleGet implements store.AlertStore.
func (s *Store) AlertRuleGet(ctx context.Context, id string) (*connecthub.AlertRule, error) {
	if !storable(id) {
		return nil, connecthub.NotFound("alert rule", id)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r, err := scanRule(db.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, connecthub.NotFound("alert rule", id)
	}
	return r, dbErr(err)
}

// AlertRuleList implements store.AlertStore.
func (s *Store) AlertRuleList(ctx context.Context) ([]*connecthub.AlertRule, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scanRule, `SELECT `+ruleColumns+` FROM alert_rules ORDER BY id`)
}

// AlertRuleUpdate implements store.AlertStore with store.UpdateAlertRule;
// the row is locked while update runs.
func (s *Store) AlertRuleUpdate(ctx context.Context, id string, update func(*connecthub.AlertRule) error) (*connecthub.AlertRule, error) {
	if !storable(id) {
		return nil, connecthub.NotFound("alert rule", id)
	}
	return store.UpdateAlertRule(s.inTx(ctx), id, update, func(tx pgx.Tx) (*connecthub.AlertRule, error) {
		r, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1 FOR UPDATE`, id))
		return r, notFound(err, "alert rule", id)
	}, func(tx pgx.Tx, r *connecthub.AlertRule) error {
		if err := checkAlertText(r); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE alert_rules SET name = $1, enabled = $2, match_job = $3, match_handler = $4,
			match_queue = $5, event = $6, threshold = $7, quiet_ns = $8, updated_at = $9 WHERE id = $10`,
			r.Name, r.Enabled, r.Match.Job, r.Match.Handler, r.Match.Queue, r.Event, r.Threshold,
			int64(r.QuietPeriod), utc(r.UpdatedAt), id); err != nil {
			return dbErr(err)
		}
		return putRuleChannels(ctx, tx, id, r.Channels)
	})
}

// AlertRuleDelete implements store.AlertStore.
func (s *Store) AlertRuleDelete(ctx context.Context, id string) error {
	if !storable(id) {
		return connecthub.NotFound("alert rule", id)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
		if err != nil {
			return dbErr(err)
		}
		if tag.RowsAffected() == 0 {
			return connecthub.NotFound("alert rule", id)
		}
		return nil
	})
}

func scanRule(row pgx.Row) (*connecthub.AlertRule, error) {
	var (
		r        connecthub.AlertRule
		quiet    int64
		channels []byte
	)
	if err := row.Scan(&r.ID, &r.Name, &r.Enabled, &r.Match.Job, &r.Match.Handler, &r.Match.Queue, &r.Event,
		&r.Threshold, &quiet, &r.CreatedAt, &r.UpdatedAt, &channels); err != nil {
		return nil, err
	}
	r.QuietPeriod = connecthub.Duration(quiet)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, store.DecodeRuleChannels(&r, channels)
}
