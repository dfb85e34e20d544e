package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/internal/store"
)

// calendarUpsert keeps an existing calendar's created_at and builtin mark.
const calendarUpsert = `INSERT INTO calendars (` + store.CalendarColumns + `)
	VALUES ($1, $2, $3, $4, $5, $5)
	ON CONFLICT (name) DO UPDATE SET description = excluded.description, data = excluded.data,
		updated_at = excluded.updated_at
	RETURNING ` + store.CalendarColumns

// CalendarPut implements store.CalendarStore with one upsert.
func (s *Store) CalendarPut(ctx context.Context, c *connecthub.Calendar, now time.Time) (*connecthub.Calendar, error) {
	if err := store.CheckCalendar(c); err != nil {
		return nil, err
	}
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	if !storable(c.Name) || !storable(c.Description) {
		return nil, connecthub.FieldError("description", "", "description must be UTF-8 text without NUL characters")
	}
	if e, _ := store.AuditToWrite(ctx); e != nil {
		// An audited save: the calendar and its entry commit together.
		var out *connecthub.Calendar
		err := s.tx(ctx, func(tx pgx.Tx) error {
			var err error
			out, err = putCalendar(ctx, tx, c, now)
			return err
		})
		return out, err
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return putCalendar(ctx, db, c, now)
}

// querier is what putCalendar needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func putCalendar(ctx context.Context, q querier, c *connecthub.Calendar, now time.Time) (*connecthub.Calendar, error) {
	data, err := store.EncodeCalendarData(c)
	if err != nil {
		return nil, err
	}
	out, err := scanCalendar(q.QueryRow(ctx, calendarUpsert, c.Name, c.Description, data, c.Builtin, utc(now)))
	return out, dbErr(err)
}

// CalendarGet implements store.CalendarStore.
func (s *Store) CalendarGet(ctx context.Context, name string) (*connecthub.Calendar, error) {
	if !storable(name) {
		return nil, store.ErrNoCalendar(name)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	c, err := scanCalendar(db.QueryRow(ctx, `SELECT `+store.CalendarColumns+` FROM calendars WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoCalendar(name)
	}
	return c, dbErr(err)
}

// CalendarList implements store.CalendarStore.
func (s *Store) CalendarList(ctx context.Context) ([]*connecthub.Calendar, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+store.CalendarColumns+` FROM calendars ORDER BY name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []*connecthub.Calendar{}
	for rows.Next() {
		c, err := scanCalendar(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, c)
	}
	return out, dbErr(rows.Err())
}

// CalendarDelete implements store.CalendarStore. The jobs that name the
// calendar are read FOR SHARE, so a job saving the calendar concurrently
// waits for the delete (and then fails its foreign check in the service)
// or makes the delete see it.
func (s *Store) CalendarDelete(ctx context.Context, name string) error {
	if !storable(name) {
		return store.ErrNoCalendar(name)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE calendar = $1 AND calendar <> '' ORDER BY id LIMIT 10 FOR SHARE`, name)
		if err != nil {
			return dbErr(err)
		}
		jobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return dbErr(err)
		}
		if len(jobs) > 0 {
			return store.ErrCalendarInUse(name, jobs)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM calendars WHERE name = $1`, name)
		if err != nil {
			return dbErr(err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNoCalendar(name)
		}
		return nil
	})
}

// CalendarsInUse implements store.CalendarStore through the jobs_calendar
// index.
func (s *Store) CalendarsInUse(ctx context.Context) ([]string, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT DISTINCT calendar FROM jobs
		WHERE calendar <> '' AND enabled AND cron_expr <> '' ORDER BY calendar`)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, dbErr(err)
}

// CalendarEnsureBuiltin implements store.CalendarStore in one transaction;
// the rows it reads are locked, so replicas starting together do not both
// extend a calendar.
func (s *Store) CalendarEnsureBuiltin(ctx context.Context, builtin []*calendar.Calendar, now time.Time) ([]string, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) ([]string, error) {
		return store.EnsureBuiltin(builtin, now, func(name string) (*connecthub.Calendar, error) {
			c, err := scanCalendar(tx.QueryRow(ctx, `SELECT `+store.CalendarColumns+` FROM calendars WHERE name = $1 FOR UPDATE`, name))
			return c, notFound(err, "calendar", name)
		}, func(c *connecthub.Calendar) error {
			_, err := putCalendar(ctx, tx, c, now)
			return err
		})
	})
}

func scanCalendar(row pgx.Row) (*connecthub.Calendar, error) {
	var (
		c    connecthub.Calendar
		data []byte
	)
	if err := row.Scan(&c.Name, &c.Description, &data, &c.Builtin, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	if err := store.DecodeCalendarData(&c, string(data)); err != nil {
		return nil, err
	}
	return &c, nil
}
