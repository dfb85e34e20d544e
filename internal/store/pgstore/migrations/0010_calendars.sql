-- ConnectHub schema for PostgreSQL, version 10: working-day calendars, and
-- the jobs' calendar fields. It mirrors the SQLite schema's version 10.

-- +goose Up

-- One row per calendar. data is the JSON document of its days and source
-- citations: a calendar is read whole (by the scheduler, once per pass),
-- never queried by day, and holds at most a few thousand days.
CREATE TABLE calendars (
    name        text COLLATE "C" NOT NULL PRIMARY KEY,
    description text        NOT NULL DEFAULT '',
    data        jsonb       NOT NULL,
    builtin     boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

ALTER TABLE jobs ADD COLUMN calendar text NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN calendar_mode text NOT NULL DEFAULT '';

-- CalendarDelete's check that no job names the calendar. Partial: most
-- jobs have none.
CREATE INDEX jobs_calendar ON jobs (calendar) WHERE calendar <> '';

-- +goose Down
DROP INDEX jobs_calendar;
ALTER TABLE jobs DROP COLUMN calendar_mode;
ALTER TABLE jobs DROP COLUMN calendar;
DROP TABLE calendars;
