package pyimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// Dialects of the old database.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// Source is the Python ConnectHub's database, read (and, for a rollback,
// written) through database/sql with the drivers ConnectHub already has.
// Its tables may lack columns that older versions did not have, so the
// columns are discovered, and a missing optional one reads as NULL.
type Source struct {
	db      *sql.DB
	dialect string
	// cols maps each table to its columns and their declared types.
	cols map[string]map[string]string
}

// The columns an import needs; the others of SPEC's list are optional.
var requiredCols = map[string][]string{
	"jobs":     {"id", "handler_path"},
	"job_logs": {"id", "job_id", "status"},
}

// OpenSource opens the database at rawURL: postgres://… (or postgresql://)
// or sqlite:///absolute/path (sqlite://relative/path). A SQLite database
// is opened read-only unless write is set; either way the file must exist.
func OpenSource(ctx context.Context, rawURL string, write bool) (*Source, error) {
	s := &Source{cols: map[string]map[string]string{}}
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("old database: %w", err)
		}
		s.db, s.dialect = db, dialectPostgres
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if u, err := url.PathUnescape(path); err == nil {
			path = u
		}
		if path == "" {
			return nil, errors.New("old database: sqlite:// needs a path (sqlite:///var/lib/connecthub/app.db)")
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("old database: %w", err)
		}
		mode := "ro"
		if write {
			mode = "rw" // rw never creates the file
		}
		db, err := sql.Open("sqlite", "file:"+path+"?mode="+mode+"&_pragma=busy_timeout(5000)")
		if err != nil {
			return nil, fmt.Errorf("old database: %w", err)
		}
		db.SetMaxOpenConns(1)
		s.db, s.dialect = db, dialectSQLite
	default:
		return nil, fmt.Errorf("--from %q: use postgres://user:pass@host/db or sqlite:///path/to/file.db", redactURL(rawURL))
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("cannot open the old database %s: %w", redactURL(rawURL), err)
	}
	for table, need := range requiredCols {
		cols, err := s.columns(ctx, table)
		if err != nil {
			s.db.Close()
			return nil, err
		}
		if len(cols) == 0 && table == "job_logs" {
			s.cols[table] = cols // history is optional: no table, no history
			continue
		}
		for _, c := range need {
			if _, ok := cols[c]; !ok {
				s.db.Close()
				return nil, fmt.Errorf("the old database has no column %s.%s: is it a Python ConnectHub database?", table, c)
			}
		}
		s.cols[table] = cols
	}
	return s, nil
}

// redactURL hides the password of a database URL in messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Close closes the database.
func (s *Source) Close() error { return s.db.Close() }

// columns discovers a table's columns and their declared types (lower
// case); an empty map when the table does not exist.
func (s *Source) columns(ctx context.Context, table string) (map[string]string, error) {
	q := `SELECT name, lower(type) FROM pragma_table_info(?)`
	if s.dialect == dialectPostgres {
		q = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1`
	}
	rows, err := s.db.QueryContext(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("old database: read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("old database: read the columns of %s: %w", table, err)
		}
		cols[strings.ToLower(name)] = typ
	}
	return cols, rows.Err()
}

// has reports whether the table has the column.
func (s *Source) has(table, col string) bool { _, ok := s.cols[table][col]; return ok }

// selectList is the SELECT list of wanted columns: a column the table
// lacks reads as NULL. Every value is read as text, so both dialects give
// the same Go types and no driver interprets a naive timestamp in a zone
// of its own (modernc's SQLite driver would read a DATETIME as UTC); a
// timestamp with a zone keeps its offset in the text.
func (s *Source) selectList(table string, wanted []string) string {
	parts := make([]string, len(wanted))
	for i, c := range wanted {
		if s.has(table, c) {
			parts[i] = `CAST("` + c + `" AS text)`
		} else {
			parts[i] = "NULL"
		}
	}
	return strings.Join(parts, ", ")
}

// scanRow reads one row of len(dest) values into dest.
func scanRow(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

// OldJob is a row of the old jobs table.
type OldJob struct {
	ID          string
	Description *string // nil when the table has no such column
	Enabled     bool
	CronExpr    string
	HandlerPath string
	PublicCfg   string
	SecretCfg   string
	LastRunAt   *time.Time
	// Problem is why a column could not be read; such a job is refused.
	Problem string
}

var jobCols = []string{"id", "description", "enabled", "cron_expr", "handler_path", "public_cfg", "secret_cfg", "last_run_at"}

// Jobs reads every job, ordered by id.
func (s *Source) Jobs(ctx context.Context) ([]OldJob, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+s.selectList("jobs", jobCols)+` FROM jobs ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("old database: read jobs: %w", err)
	}
	defer rows.Close()
	var out []OldJob
	for rows.Next() {
		v, err := scanRow(rows, len(jobCols))
		if err != nil {
			return nil, fmt.Errorf("old database: read jobs: %w", err)
		}
		j := OldJob{ID: strings.TrimSpace(text(v[0])), CronExpr: strings.TrimSpace(text(v[3])),
			HandlerPath: strings.TrimSpace(text(v[4])), PublicCfg: text(v[5]), SecretCfg: text(v[6])}
		if s.has("jobs", "description") {
			d := text(v[1])
			j.Description = &d
		}
		var problems []string
		if j.Enabled, err = boolean(v[2], true); err != nil {
			problems = append(problems, "enabled: "+err.Error())
		}
		if j.LastRunAt, err = timestamp(v[7]); err != nil {
			problems = append(problems, "last_run_at: "+err.Error())
		}
		j.Problem = strings.Join(problems, "; ")
		out = append(out, j)
	}
	return out, rows.Err()
}

// OldLog is a row of the old job_logs table.
type OldLog struct {
	ID             any // int64 for an integer id, else its text
	JobID          string
	Status         string
	SnapshotParams string
	Message        string
	Traceback      string
	RunLog         string
	CeleryTaskID   string
	Attempt        int
	CreatedAt      *time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	Problem        string
}

var logCols = []string{"id", "job_id", "status", "snapshot_params", "message", "traceback", "run_log",
	"celery_task_id", "attempt", "created_at", "started_at", "finished_at"}

// HasHistory reports whether the old database has a job_logs table.
func (s *Source) HasHistory() bool { return len(s.cols["job_logs"]) > 0 }

// CountLogs counts the job_logs rows, for the progress display.
func (s *Source) CountLogs(ctx context.Context) (int64, error) {
	if !s.HasHistory() {
		return 0, nil
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM job_logs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("old database: count job_logs: %w", err)
	}
	return n, nil
}

// Logs calls fn for each job_logs row in id order, reading them in one
// streaming query. An error from fn stops the walk and is returned.
func (s *Source) Logs(ctx context.Context, fn func(*OldLog) error) error {
	if !s.HasHistory() {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+s.selectList("job_logs", logCols)+` FROM job_logs ORDER BY id`)
	if err != nil {
		return fmt.Errorf("old database: read job_logs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanRow(rows, len(logCols))
		if err != nil {
			return fmt.Errorf("old database: read job_logs: %w", err)
		}
		l := &OldLog{ID: logID(v[0]), JobID: strings.TrimSpace(text(v[1])), Status: strings.ToUpper(strings.TrimSpace(text(v[2]))),
			SnapshotParams: text(v[3]), Message: text(v[4]), Traceback: text(v[5]), RunLog: text(v[6]),
			CeleryTaskID: strings.TrimSpace(text(v[7])), Attempt: 1}
		var problems []string
		if a := strings.TrimSpace(text(v[8])); a != "" {
			if _, err := fmt.Sscan(a, &l.Attempt); err != nil || l.Attempt < 1 {
				l.Attempt = 1
			}
		}
		for i, dst := range []**time.Time{&l.CreatedAt, &l.StartedAt, &l.FinishedAt} {
			if *dst, err = timestamp(v[9+i]); err != nil {
				problems = append(problems, logCols[9+i]+": "+err.Error())
			}
		}
		l.Problem = strings.Join(problems, "; ")
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// logID keeps an integer id a number (as meta.imported_from shows it) and
// any other id its text.
func logID(v any) any {
	s := strings.TrimSpace(text(v))
	var n int64
	if _, err := fmt.Sscan(s, &n); err == nil && fmt.Sprint(n) == s {
		return n
	}
	return s
}

// WriteBack sets a job's enabled and last_run_at (unless nil) in the old
// database, for a rollback; last_run_at is written as the old code keeps it (naive
// Asia/Shanghai time, or an instant for a timestamptz column). It reports
// whether the job exists there.
func (s *Source) WriteBack(ctx context.Context, id string, enabled bool, lastRunAt *time.Time) (bool, error) {
	var last any
	if lastRunAt != nil {
		if s.dialect == dialectPostgres {
			last = lastRunAt.In(Shanghai).Format("2006-01-02 15:04:05.999999-07:00")
		} else {
			last = naiveText(*lastRunAt)
		}
	}
	sets := []string{}
	var args []any
	add := func(col string, v any) {
		if !s.has("jobs", col) {
			return
		}
		args = append(args, v)
		ph := "?"
		if s.dialect == dialectPostgres {
			ph = fmt.Sprintf("CAST(CAST($%d AS text) AS %s)", len(args), s.cols["jobs"][col])
		}
		sets = append(sets, `"`+col+`" = `+ph)
	}
	en := any(int64(0))
	if enabled {
		en = int64(1)
	}
	if s.dialect == dialectPostgres && !strings.Contains(s.cols["jobs"]["enabled"], "int") {
		en = fmt.Sprint(enabled)
	}
	add("enabled", en)
	if lastRunAt != nil {
		add("last_run_at", last)
	}
	if len(sets) == 0 {
		return false, errors.New("the old jobs table has neither enabled nor last_run_at")
	}
	args = append(args, id)
	where := "?"
	if s.dialect == dialectPostgres {
		where = fmt.Sprintf("CAST($%d AS text)", len(args))
	}
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET `+strings.Join(sets, ", ")+` WHERE CAST(id AS text) = `+where, args...)
	if err != nil {
		return false, fmt.Errorf("old database: update job %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// HasJob reports whether the old database has a job of that id.
func (s *Source) HasJob(ctx context.Context, id string) (bool, error) {
	q := `SELECT count(*) FROM jobs WHERE CAST(id AS text) = ?`
	if s.dialect == dialectPostgres {
		q = `SELECT count(*) FROM jobs WHERE CAST(id AS text) = $1`
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q, id).Scan(&n); err != nil {
		return false, fmt.Errorf("old database: look up job %s: %w", id, err)
	}
	return n > 0, nil
}
