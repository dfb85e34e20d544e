-- ConnectHub schema, version 10: working-day calendars, and the jobs'
-- calendar fields.
--
-- Same conventions as version 1 (STRICT tables, INTEGER unix microseconds).

-- +goose Up

-- One row per calendar. data is the JSON document of its days and source
-- citations: a calendar is read whole (by the scheduler, once per pass),
-- never queried by day, and holds at most a few thousand days.
CREATE TABLE calendars (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    data        TEXT    NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

ALTER TABLE jobs ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN calendar_mode TEXT NOT NULL DEFAULT '';

-- CalendarDelete's check that no job names the calendar. Partial: most
-- jobs have none.
CREATE INDEX jobs_calendar ON jobs (calendar) WHERE calendar <> '';

-- +goose Down
DROP INDEX jobs_calendar;
ALTER TABLE jobs DROP COLUMN calendar_mode;
ALTER TABLE jobs DROP COLUMN calendar;
DROP TABLE calendars;
