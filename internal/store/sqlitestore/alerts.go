package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// ChannelCreate implements store.AlertStore.
func (s *Store) ChannelCreate(ctx context.Context, c *connecthub.Channel) error {
	smtp, err := store.PrepareChannel(c)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_channels (`+store.ChannelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.Type, c.Language, c.URL, smtp, c.SecretToken, micros(c.CreatedAt), micros(c.UpdatedAt))
		if isUniqueViolation(err) {
			return store.ChannelExists(c.Name, err)
		}
		return dbErr(err)
	})
}

// ChannelGet implements store.AlertStore.
func (s *Store) ChannelGet(ctx context.Context, name string) (*connecthub.Channel, error) {
	c, err := scanChannel(s.r.QueryRowContext(ctx, `SELECT `+store.ChannelColumns+` FROM notify_channels WHERE id = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("channel", name)
	}
	return c, dbErr(err)
}

// ChannelList implements store.AlertStore.
func (s *Store) ChannelList(ctx context.Context) ([]*connecthub.Channel, error) {
	return queryAll(ctx, s.r, scanChannel, `SELECT `+store.ChannelColumns+` FROM notify_channels ORDER BY id`)
}

// ChannelUpdate implements store.AlertStore with store.UpdateChannel.
func (s *Store) ChannelUpdate(ctx context.Context, name string, update func(*connecthub.Channel) error) (*connecthub.Channel, error) {
	return store.UpdateChannel(s.inTx(ctx), name, update, func(tx *sqlx.Tx) (*connecthub.Channel, error) {
		c, err := scanChannel(tx.QueryRowContext(ctx, `SELECT `+store.ChannelColumns+` FROM notify_channels WHERE id = ?`, name))
		return c, notFound(err, "channel", name)
	}, func(tx *sqlx.Tx, c *connecthub.Channel, smtp *string) error {
		_, err := tx.ExecContext(ctx, `UPDATE notify_channels SET type = ?, language = ?, url = ?, smtp = ?, secret = ?, updated_at = ?
			WHERE id = ?`, c.Type, c.Language, c.URL, smtp, c.SecretToken, micros(c.UpdatedAt), name)
		return dbErr(err)
	})
}

// ChannelDelete implements store.AlertStore.
func (s *Store) ChannelDelete(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_channels WHERE id = ?`, name)
		if isForeignKeyViolation(err) {
			return store.ChannelInUse(name)
		}
		return affectedOrNotFound(res, err, "channel", name)
	})
}

func scanChannel(sc scanner) (*connecthub.Channel, error) {
	var (
		c                connecthub.Channel
		smtp             sql.NullString
		created, updated int64
	)
	if err := sc.Scan(&c.Name, &c.Type, &c.Language, &c.URL, &smtp, &c.SecretToken, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.HasSecret = c.SecretToken != ""
	return &c, store.DecodeChannelSMTP(&c, []byte(smtp.String))
}

const ruleColumns = `id, name, enabled, match_job, match_handler, match_queue, event, threshold, quiet_ns, created_at, updated_at,
	(SELECT COALESCE(json_group_array(channel), '[]') FROM (SELECT channel FROM alert_rule_channels c WHERE c.rule_id = alert_rules.id ORDER BY pos))`

// AlertRuleCreate implements store.AlertStore.
func (s *Store) AlertRuleCreate(ctx context.Context, r *connecthub.AlertRule) error {
	if err := store.PrepareAlertRule(r); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		id, err := s.ids.Next(r.CreatedAt)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (id, name, enabled, match_job, match_handler, match_queue,
			event, threshold, quiet_ns, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, r.Name, boolInt(r.Enabled), r.Match.Job, r.Match.Handler, r.Match.Queue, r.Event, r.Threshold,
			int64(r.QuietPeriod), micros(r.CreatedAt), micros(r.UpdatedAt)); err != nil {
			return dbErr(err)
		}
		if err := putRuleChannels(ctx, tx, id, r.Channels); err != nil {
			return err
		}
		r.ID = id
		return nil
	})
}

func putRuleChannels(ctx context.Context, tx *sqlx.Tx, id string, channels []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_rule_channels WHERE rule_id = ?`, id); err != nil {
		return dbErr(err)
	}
	for i, c := range channels {
		_, err := tx.ExecContext(ctx, `INSERT INTO alert_rule_channels (rule_id, channel, pos) VALUES (?, ?, ?)`, id, c, i)
		if isForeignKeyViolation(err) {
			return store.UnknownRuleChannel()
		}
		if err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// AlertRuleGet implements store.AlertStore.
func (s *Store) AlertRuleGet(ctx context.Context, id string) (*connecthub.AlertRule, error) {
	r, err := scanRule(s.r.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("alert rule", id)
	}
	return r, dbErr(err)
}

// AlertRuleList implements store.AlertStore.
func (s *Store) AlertRuleList(ctx context.Context) ([]*connecthub.AlertRule, error) {
	return queryAll(ctx, s.r, scanRule, `SELECT `+ruleColumns+` FROM alert_rules ORDER BY id`)
}

// AlertRuleUpdate implements store.AlertStore with store.UpdateAlertRule.
func (s *Store) AlertRuleUpdate(ctx context.Context, id string, update func(*connecthub.AlertRule) error) (*connecthub.AlertRule, error) {
	return store.UpdateAlertRule(s.inTx(ctx), id, update, func(tx *sqlx.Tx) (*connecthub.AlertRule, error) {
		r, err := scanRule(tx.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = ?`, id))
		return r, notFound(err, "alert rule", id)
	}, func(tx *sqlx.Tx, r *connecthub.AlertRule) error {
		if _, err := tx.ExecContext(ctx, `UPDATE alert_rules SET name = ?, enabled = ?, match_job = ?, match_handler = ?,
			match_queue = ?, event = ?, threshold = ?, quiet_ns = ?, updated_at = ? WHERE id = ?`,
			r.Name, boolInt(r.Enabled), r.Match.Job, r.Match.Handler, r.Match.Queue, r.Event, r.Threshold,
			int64(r.QuietPeriod), micros(r.UpdatedAt), id); err != nil {
			return dbErr(err)
		}
		return putRuleChannels(ctx, tx, id, r.Channels)
	})
}

// AlertRuleDelete implements store.AlertStore.
func (s *Store) AlertRuleDelete(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ?`, id)
		return affectedOrNotFound(res, err, "alert rule", id)
	})
}

func scanRule(sc scanner) (*connecthub.AlertRule, error) {
	var (
		r                connecthub.AlertRule
		enabled          int64
		quiet            int64
		created, updated int64
		channels         string
	)
	if err := sc.Scan(&r.ID, &r.Name, &enabled, &r.Match.Job, &r.Match.Handler, &r.Match.Queue, &r.Event,
		&r.Threshold, &quiet, &created, &updated, &channels); err != nil {
		return nil, err
	}
	r.Enabled, r.QuietPeriod = enabled != 0, connecthub.Duration(quiet)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, store.DecodeRuleChannels(&r, []byte(channels))
}
