package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/internal/store"
)

// CalendarPut implements store.CalendarStore with one upsert that keeps an
// existing calendar's created_at and builtin mark.
func (s *Store) CalendarPut(ctx context.Context, c *connecthub.Calendar, now time.Time) (*connecthub.Calendar, error) {
	if err := store.CheckCalendar(c); err != nil {
		return nil, err
	}
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	var out *connecthub.Calendar
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = putCalendar(ctx, tx, c, now)
		return err
	})
	return out, err
}

func putCalendar(ctx context.Context, tx *sqlx.Tx, c *connecthub.Calendar, now time.Time) (*connecthub.Calendar, error) {
	data, err := store.EncodeCalendarData(c)
	if err != nil {
		return nil, err
	}
	out, err := scanCalendar(tx.QueryRowContext(ctx, `INSERT INTO calendars (`+store.CalendarColumns+`)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, data = excluded.data,
			updated_at = excluded.updated_at
		RETURNING `+store.CalendarColumns,
		c.Name, c.Description, data, boolInt(c.Builtin), micros(now), micros(now)))
	return out, dbErr(err)
}

// CalendarGet implements store.CalendarStore.
func (s *Store) CalendarGet(ctx context.Context, name string) (*connecthub.Calendar, error) {
	c, err := scanCalendar(s.r.QueryRowContext(ctx, `SELECT `+store.CalendarColumns+` FROM calendars WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoCalendar(name)
	}
	return c, dbErr(err)
}

// CalendarList implements store.CalendarStore.
func (s *Store) CalendarList(ctx context.Context) ([]*connecthub.Calendar, error) {
	return queryAll(ctx, s.r, scanCalendar, `SELECT `+store.CalendarColumns+` FROM calendars ORDER BY name`)
}

// CalendarDelete implements store.CalendarStore: the check for jobs that
// name the calendar and the delete are one write transaction, so a job
// saved with the calendar meanwhile cannot be left naming nothing.
func (s *Store) CalendarDelete(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sqlx.Tx) error {
		var jobs []string
		if err := tx.SelectContext(ctx, &jobs, `SELECT id FROM jobs WHERE calendar = ? AND calendar <> '' ORDER BY id LIMIT 10`, name); err != nil {
			return dbErr(err)
		}
		if len(jobs) > 0 {
			return store.ErrCalendarInUse(name, jobs)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM calendars WHERE name = ?`, name)
		if err != nil {
			return dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return dbErr(err)
			}
			return store.ErrNoCalendar(name)
		}
		return nil
	})
}

// CalendarsInUse implements store.CalendarStore through the jobs_calendar
// index.
func (s *Store) CalendarsInUse(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.r.SelectContext(ctx, &out, `SELECT DISTINCT calendar FROM jobs
		WHERE calendar <> '' AND enabled = 1 AND cron_expr <> '' ORDER BY calendar`)
	return out, dbErr(err)
}

// CalendarEnsureBuiltin implements store.CalendarStore in one write
// transaction.
func (s *Store) CalendarEnsureBuiltin(ctx context.Context, builtin []*calendar.Calendar, now time.Time) ([]string, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) ([]string, error) {
		return store.EnsureBuiltin(builtin, now, func(name string) (*connecthub.Calendar, error) {
			c, err := scanCalendar(tx.QueryRowContext(ctx, `SELECT `+store.CalendarColumns+` FROM calendars WHERE name = ?`, name))
			return c, notFound(err, "calendar", name)
		}, func(c *connecthub.Calendar) error {
			_, err := putCalendar(ctx, tx, c, now)
			return err
		})
	})
}

func scanCalendar(sc scanner) (*connecthub.Calendar, error) {
	var (
		c                connecthub.Calendar
		data             string
		builtin          int64
		created, updated int64
	)
	if err := sc.Scan(&c.Name, &c.Description, &data, &builtin, &created, &updated); err != nil {
		return nil, err
	}
	c.Builtin = builtin != 0
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := store.DecodeCalendarData(&c, data); err != nil {
		return nil, err
	}
	return &c, nil
}
