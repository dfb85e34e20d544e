package store

import (
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// Dialect is how a driver writes what the list filters put in a query: a
// parameter's mark, a text value, a time, and a "starts with" condition.
type Dialect struct {
	// Mark writes the n-th parameter (from 1): "$n" or "?".
	Mark func(n int) string
	// Text makes a text value storable; nil keeps it as it is.
	Text func(string) string
	// Time is a time as the dialect stores it.
	Time func(time.Time) any
	// Prefix is the condition that col starts with v, with its arguments
	// ("?" marks them).
	Prefix func(col, v string) (cond string, args []any)
	// Contains is the condition that col, folded to lower case, contains
	// one "?" argument folded the same way, as plain characters (no
	// pattern: the user's % and _ match themselves).
	Contains func(col string) string
	// Bool is a boolean as the dialect stores it; nil keeps it as it is.
	Bool func(bool) any
	// Statuses is the condition that a run's status is one of statuses
	// (valid, at least one), written so that the dialect's partial
	// indexes apply, with its arguments.
	Statuses func(statuses []connecthub.RunStatus) (cond string, args []any)
	// JobRunsByStatus says that the dialect has no index of a job's runs
	// in id order, only indexes of a job's runs of one status (or some) in
	// id order, and numbers its parameters (a mark may appear twice):
	// ListRuns then lists one job's runs through a walk per status
	// (JobRunsWhere).
	JobRunsByStatus bool
}

// Where collects the conditions and arguments of a list query. The rules
// that map a filter to conditions (NotificationWhere, AuditWhere) write
// them once; the driver keeps the SELECT and its ORDER BY.
type Where struct {
	d     Dialect
	conds []string
	Args  []any
}

// NewWhere starts an empty set of conditions in dialect d.
func NewWhere(d Dialect) *Where { return &Where{d: d} }

// Add appends a condition in which each "?" stands for the next of args.
func (w *Where) Add(cond string, args ...any) {
	var b strings.Builder
	for _, c := range cond {
		if c == '?' && len(args) > 0 {
			b.WriteString(w.Arg(args[0]))
			args = args[1:]
			continue
		}
		b.WriteRune(c)
	}
	w.conds = append(w.conds, b.String())
}

// Arg adds one parameter and returns its mark (for a LIMIT, say).
func (w *Where) Arg(v any) string {
	w.Args = append(w.Args, v)
	return w.d.Mark(len(w.Args))
}

// text is a text value as the dialect stores it.
func (w *Where) text(s string) string {
	if w.d.Text == nil {
		return s
	}
	return w.d.Text(s)
}

// SQL is " WHERE c1 AND c2 ...", or "" without conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// NotificationWhere adds NotificationList's conditions: each of channel,
// event, status and job id that the filter sets must match, and the
// cursor keeps the ids below it.
func NotificationWhere(w *Where, f connecthub.NotificationFilter) {
	for _, c := range []struct{ cond, v string }{{"channel = ?", f.Channel}, {"event = ?", f.Event},
		{"status = ?", f.Status}, {"job_id = ?", f.JobID}, {"id < ?", f.Cursor}} {
		if c.v != "" {
			w.Add(c.cond, w.text(c.v))
		}
	}
}

// AuditWhere adds AuditList's conditions: ids below the cursor's (below,
// from CheckAuditFilter), the actor and target when set, the action as a
// prefix when it selects one (AuditActionPrefix) or else as it is, and the
// time range [Since, Until).
func AuditWhere(w *Where, f connecthub.AuditFilter, below int64) {
	if below > 0 {
		w.Add("id < ?", below)
	}
	if f.Actor != "" {
		w.Add("actor = ?", f.Actor)
	}
	if f.Target != "" {
		w.Add("target = ?", f.Target)
	}
	if v, prefix := AuditActionPrefix(f.Action); prefix {
		cond, args := w.d.Prefix("action", v)
		w.Add(cond, args...)
	} else if v != "" {
		w.Add("action = ?", v)
	}
	if !f.Since.IsZero() {
		w.Add("at >= ?", w.d.Time(f.Since))
	}
	if !f.Until.IsZero() {
		w.Add("at < ?", w.d.Time(f.Until))
	}
}

// ListQuery runs a list's query: the driver's SELECT ... FROM, followed by
// tail (its conditions, order and limit), with args.
type ListQuery[T any] func(tail string, args []any) ([]T, error)

// newestFirst is the paging rule of the lists that show the newest first
// (by id, descending): one row more than limit is read, which tells
// whether there is a next page, whose cursor is the key of the page's
// last item. An empty page is an empty list, not nil.
func newestFirst[T any](w *Where, limit int, key func(T) string, query ListQuery[T]) ([]T, string, error) {
	items, err := query(w.SQL()+" ORDER BY id DESC LIMIT "+w.Arg(limit+1), w.Args)
	if err != nil {
		return nil, "", err
	}
	page, next := Page(items, limit, key)
	if page == nil {
		page = []T{}
	}
	return page, next, nil
}

// ListNotifications is NotificationList's rule: the filter is checked
// (NotificationLimit), its conditions are NotificationWhere's, and the
// page is the newest first.
func ListNotifications(d Dialect, f connecthub.NotificationFilter, query ListQuery[*connecthub.Notification]) ([]*connecthub.Notification, string, error) {
	limit, err := NotificationLimit(f)
	if err != nil {
		return nil, "", err
	}
	w := NewWhere(d)
	NotificationWhere(w, f)
	return newestFirst(w, limit, func(n *connecthub.Notification) string { return n.ID }, query)
}

// ListAudit is AuditList's rule: the filter is checked (CheckAuditFilter),
// its conditions are AuditWhere's, and the page is the newest first.
func ListAudit(d Dialect, f connecthub.AuditFilter, query ListQuery[*connecthub.AuditEntry]) ([]*connecthub.AuditEntry, string, error) {
	limit, below, err := CheckAuditFilter(f)
	if err != nil {
		return nil, "", err
	}
	w := NewWhere(d)
	AuditWhere(w, f, below)
	return newestFirst(w, limit, AuditCursor, query)
}

// ListBatches is BatchList's rule: the filter is checked
// (CheckBatchFilter), the cursor keeps the ids below it, and the page is
// the newest first.
func ListBatches(d Dialect, f connecthub.BatchFilter, query ListQuery[*connecthub.Batch]) ([]*connecthub.Batch, string, error) {
	limit, below, err := CheckBatchFilter(f)
	if err != nil {
		return nil, "", err
	}
	w := NewWhere(d)
	if below > 0 {
		w.Add("id < ?", below)
	}
	return newestFirst(w, limit, func(b *connecthub.Batch) string { return strconv.FormatInt(b.ID, 10) }, query)
}

// JobWhere adds JobList's conditions: ids after the cursor, the query
// contained in the id or the description (Dialect.Contains, surrounding
// spaces ignored), and the enabled state and handler when set.
func JobWhere(w *Where, p JobListParams) {
	if p.Cursor != "" {
		w.Add("id > ?", p.Cursor)
	}
	if q := strings.TrimSpace(p.Query); q != "" {
		q = w.text(q)
		w.Add("("+w.d.Contains("id")+" OR "+w.d.Contains("description")+")", q, q)
	}
	if p.Enabled != nil {
		var v any = *p.Enabled
		if w.d.Bool != nil {
			v = w.d.Bool(*p.Enabled)
		}
		w.Add("enabled = ?", v)
	}
	if p.Handler != "" {
		w.Add("handler = ?", w.text(p.Handler))
	}
}

// ListJobs is JobList's rule: the limit is checked (PageLimit), the
// conditions are JobWhere's, and the page is in id order, one row more
// than limit read to tell whether there is a next page.
func ListJobs(d Dialect, p JobListParams, query ListQuery[*connecthub.Job]) ([]*connecthub.Job, string, error) {
	limit, err := PageLimit(p.Limit)
	if err != nil {
		return nil, "", err
	}
	w := NewWhere(d)
	JobWhere(w, p)
	jobs, err := query(w.SQL()+" ORDER BY id LIMIT "+w.Arg(limit+1), w.Args)
	if err != nil {
		return nil, "", err
	}
	page, next := Page(jobs, limit, func(j *connecthub.Job) string { return j.ID })
	if page == nil {
		page = []*connecthub.Job{}
	}
	return page, next, nil
}

// RunWhere adds RunList's conditions: the job, the statuses
// (Dialect.Statuses), the trigger, the creation time range [Since, Until)
// and ids below the cursor, each when set.
func RunWhere(w *Where, p RunListParams) {
	if p.JobID != "" {
		w.Add("job_id = ?", p.JobID)
	}
	if len(p.Status) > 0 {
		cond, args := w.d.Statuses(p.Status)
		w.Add(cond, args...)
	}
	if p.Trigger != "" {
		w.Add(`"trigger" = ?`, string(p.Trigger))
	}
	if p.Since != nil {
		w.Add("created_at >= ?", w.d.Time(*p.Since))
	}
	if p.Until != nil {
		w.Add("created_at < ?", w.d.Time(*p.Until))
	}
	if p.Cursor != "" {
		w.Add("id < ?", p.Cursor)
	}
}

// ListRuns is RunList's rule: the filter is checked (CheckRunList), the
// conditions are RunWhere's, and the page is the newest first (id order:
// ids are ULIDs made from the creation time).
func ListRuns(d Dialect, p RunListParams, query ListQuery[*connecthub.Run]) ([]*connecthub.Run, string, error) {
	limit, err := CheckRunList(p)
	if err != nil {
		return nil, "", err
	}
	w := NewWhere(d)
	if p.JobID != "" && d.JobRunsByStatus {
		JobRunsWhere(w, p, limit)
	} else {
		RunWhere(w, p)
	}
	return newestFirst(w, limit, func(r *connecthub.Run) string { return r.ID }, query)
}

// JobRunsWhere adds RunList's conditions for one job's runs in a dialect
// whose indexes hold a job's runs by status (Dialect.JobRunsByStatus):
// the page's ids are the newest limit+1 among the newest limit+1 of each
// status asked for (every status without a status filter), each status
// read by its own walk newest first, with RunWhere's conditions. The ids
// are computed first (an array), so the page is found through the primary
// key and never by a walk of every run that filters for the job.
func JobRunsWhere(w *Where, p RunListParams, limit int) {
	statuses := p.Status
	if len(statuses) == 0 {
		statuses = connecthub.AllStatuses
	}
	lim := w.Arg(limit + 1)
	var arms []string
	seen := map[connecthub.RunStatus]bool{}
	for _, st := range statuses {
		if seen[st] {
			continue
		}
		seen[st] = true
		one := p
		one.Status = []connecthub.RunStatus{st}
		arm := &Where{d: w.d, Args: w.Args}
		RunWhere(arm, one)
		w.Args = arm.Args
		arms = append(arms, "(SELECT id FROM runs"+arm.SQL()+" ORDER BY id DESC LIMIT "+lim+")")
	}
	w.Add("id = ANY(ARRAY(SELECT id FROM (" + strings.Join(arms, " UNION ALL ") +
		") AS newest ORDER BY id DESC LIMIT " + lim + "))")
}
