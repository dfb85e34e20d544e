package pyimport

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/cron"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// HistoryReport counts what the import did with job_logs.
type HistoryReport struct {
	Enabled bool `json:"enabled"`
	// Read rows of job_logs; Inserted runs; Existing rows imported before.
	Read     int `json:"read"`
	Inserted int `json:"inserted"`
	Existing int `json:"existing"`
	// Demoted cron runs stored as manual because their slot had a run.
	Demoted int `json:"demoted"`
	// OtherJobs rows belong to jobs that were refused or do not exist;
	// BeforeSince rows are older than --since (or have no time at all).
	OtherJobs   int                 `json:"other_jobs"`
	BeforeSince int                 `json:"before_since"`
	Elapsed     connecthub.Duration `json:"elapsed"`
}

// Summary is the report's line for people.
func (h HistoryReport) Summary(dryRun bool) string {
	rate := 0.0
	if h.Elapsed > 0 {
		rate = float64(h.Read) / h.Elapsed.D().Seconds()
	}
	if dryRun {
		return fmt.Sprintf("history: %d rows read, %d would be imported (rows imported before are skipped then), %d of jobs not imported, %d before --since",
			h.Read, h.Read-h.OtherJobs-h.BeforeSince, h.OtherJobs, h.BeforeSince)
	}
	return fmt.Sprintf("history: %d rows read, %d runs imported, %d imported before, %d cron runs kept as manual (slot taken), %d of jobs not imported, %d before --since; %.1fs, %.0f rows/s",
		h.Read, h.Inserted, h.Existing, h.Demoted, h.OtherJobs, h.BeforeSince, h.Elapsed.D().Seconds(), rate)
}

// Reasons the engine records in an imported run's error.
const (
	ReasonImportedRunning = "imported while running"
	ReasonImportedQueued  = "imported while queued; it never ran"
)

// importHistory turns job_logs into runs, in batches of RunImport.
func importHistory(ctx context.Context, cfg Config, jobs map[string]*imported) (HistoryReport, error) {
	h := HistoryReport{Enabled: true}
	start := cfg.Now()
	total, err := cfg.Source.CountLogs(ctx)
	if err != nil {
		return h, err
	}
	prog := newProgress(cfg.Progress, total, cfg.Now)
	conv := converter{maxLog: cfg.RunLogMaxBytes, now: start.UTC(), scheds: map[string]*cron.Schedule{}, locs: map[string]*time.Location{}}
	batch := make([]store.ImportedRun, 0, cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 || cfg.DryRun {
			batch = batch[:0]
			return nil
		}
		res, err := cfg.Store.RunImport(ctx, batch)
		if err != nil {
			return fmt.Errorf("import history: %w", err)
		}
		h.Inserted += res.Inserted
		h.Existing += res.Existing
		h.Demoted += res.Demoted
		batch = batch[:0]
		return nil
	}
	err = cfg.Source.Logs(ctx, func(l *OldLog) error {
		h.Read++
		prog.update(h.Read)
		imp := jobs[l.JobID]
		if imp == nil {
			h.OtherJobs++
			return nil
		}
		if cfg.Since != nil {
			if t := firstTime(l.StartedAt, l.CreatedAt, l.FinishedAt); t == nil || t.Before(*cfg.Since) {
				h.BeforeSince++
				return nil
			}
		}
		batch = append(batch, conv.run(l, imp))
		if len(batch) >= cfg.BatchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	prog.done(h.Read)
	h.Elapsed = connecthub.Duration(cfg.Now().Sub(start))
	return h, err
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

// converter turns job_logs rows into runs.
type converter struct {
	maxLog int
	now    time.Time
	scheds map[string]*cron.Schedule
	locs   map[string]*time.Location
}

// oldSnapshot is what the import reads of a job_logs snapshot_params.
type oldSnapshot struct {
	PublicCfg json.RawMessage `json:"public_cfg"`
	Trigger   string          `json:"trigger"`
	Meta      struct {
		Trigger string `json:"trigger"`
	} `json:"meta"`
}

// run builds the finished run of one row: status as the contract maps it,
// times, texts masked with the job's secrets and capped like every run's,
// attempt, meta.imported_from, and the trigger (retry when the old
// snapshot says so, cron when its start matches a slot of the job's cron,
// else manual).
func (c *converter) run(l *OldLog, imp *imported) store.ImportedRun {
	j, m := imp.job, imp.masker
	created := firstTime(l.CreatedAt, l.StartedAt, l.FinishedAt)
	if created == nil {
		created = &c.now
	}
	var snap oldSnapshot
	_ = json.Unmarshal([]byte(l.SnapshotParams), &snap) // a bad snapshot only loses what it would tell
	trigger, scheduled := connecthub.TriggerManual, *firstTime(l.StartedAt, created)
	oldTrigger := snap.Meta.Trigger
	if oldTrigger == "" {
		oldTrigger = snap.Trigger
	}
	oldTrigger = strings.ToLower(strings.TrimSpace(oldTrigger))
	if oldTrigger == "retry" {
		trigger = connecthub.TriggerRetry
	} else if slot, ok := c.slot(j, scheduled); ok {
		trigger, scheduled = connecthub.TriggerCron, slot
	}
	r := connecthub.NewRun(j, trigger, scheduled, *created, "import")
	if connecthub.IsJSONObject(snap.PublicCfg) {
		r.Snapshot.PublicCfg = snap.PublicCfg
	}
	r.Status, r.Error = mapStatus(l.Status)
	r.StartedAt, r.FinishedAt = l.StartedAt, l.FinishedAt
	if r.FinishedAt == nil {
		// It ended at an unknown time (a RUNNING row, a worker that died):
		// a finished run has an end, and its start is the only time known
		// not to be made up, so the run shows a zero duration.
		r.FinishedAt = firstTime(r.StartedAt, created)
	}
	r.Attempt = l.Attempt
	r.MaxAttempts = max(l.Attempt, j.MaxAttempts)
	r.UpdatedAt = *firstTime(r.FinishedAt, created)
	r.Message = runlog.Message(m.Mask(l.Message), nil)
	r.Traceback = runlog.Message(m.Mask(l.Traceback), nil)
	if r.Error == "" && r.Status == connecthub.StatusFailure {
		r.Error = runlog.Message(m.Mask(errorLine(l.Traceback, l.Message)), nil)
	}
	if l.Problem != "" {
		r.Error = strings.TrimSpace(r.Error + " (imported with unreadable " + l.Problem + ")")
	}
	meta := connecthub.RunMeta{ImportedFrom: &connecthub.ImportedFrom{
		System: connecthub.ImportSystemPython, JobLogsID: l.ID, CeleryTaskID: l.CeleryTaskID}}
	r.Meta, _ = meta.Encode() // a RunMeta of strings and numbers always encodes
	logText := runrules.CapChunk(m.Mask(runrules.CleanText(l.RunLog)), 0, c.maxLog)
	return store.ImportedRun{Run: r, Key: fmt.Sprintf("python:job_logs:%v", l.ID), Log: logText}
}

// slotTolerance is how long after a cron slot a run may have started and
// still be that slot's run: beat enqueues at the slot, Celery starts it
// within seconds.
const slotTolerance = time.Minute

// slot returns the cron slot of j that t is the run of, if any.
func (c *converter) slot(j *connecthub.Job, t time.Time) (time.Time, bool) {
	if j.CronExpr == "" {
		return time.Time{}, false
	}
	s, ok := c.scheds[j.CronExpr]
	if !ok {
		var err error
		if s, err = cron.Parse(j.CronExpr); err != nil {
			s = nil
		}
		c.scheds[j.CronExpr] = s
	}
	if s == nil {
		return time.Time{}, false
	}
	loc, ok := c.locs[j.Timezone]
	if !ok {
		loc = j.Location()
		c.locs[j.Timezone] = loc
	}
	slot := s.Next(t.Add(-slotTolerance), loc)
	if slot.IsZero() || slot.After(t) {
		return time.Time{}, false
	}
	return slot.UTC(), true
}

// mapStatus maps a job_logs status (the seed's, and Celery's states) to a
// terminal status, with the error the engine records for it.
func mapStatus(s string) (connecthub.RunStatus, string) {
	switch s {
	case "SUCCESS", "SUCCEEDED", "OK":
		return connecthub.StatusSuccess, ""
	case "FAILURE", "FAILED", "ERROR":
		return connecthub.StatusFailure, ""
	case "RUNNING", "STARTED", "RETRY":
		return connecthub.StatusFailure, ReasonImportedRunning
	case "PENDING", "QUEUED", "RECEIVED":
		return connecthub.StatusCanceled, ReasonImportedQueued
	case "REVOKED", "CANCELED", "CANCELLED":
		return connecthub.StatusCanceled, connecthub.ReasonCanceled
	case "SKIPPED":
		return connecthub.StatusSkipped, ""
	}
	return connecthub.StatusFailure, fmt.Sprintf("imported with unknown status %q", s)
}

// errorLine is a failure's error: the last line of a Python traceback
// ("ValueError: boom"), else the message's first line.
func errorLine(traceback, message string) string {
	lines := strings.Split(strings.TrimSpace(traceback), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	first, _, _ := strings.Cut(strings.TrimSpace(message), "\n")
	return first
}

// progress shows how far the history is: on a terminal one line redrawn
// in place, elsewhere (a log file, CI) a line every few seconds.
type progress struct {
	w        io.Writer
	tty      bool
	total    int64
	now      func() time.Time
	start    time.Time
	last     time.Time
	interval time.Duration
}

func newProgress(w io.Writer, total int64, now func() time.Time) *progress {
	p := &progress{w: w, total: total, now: now, start: now(), interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.interval = true, 200*time.Millisecond
		}
	}
	p.last = p.start
	return p
}

func (p *progress) update(n int) {
	if p.w == nil || n%256 != 0 {
		return
	}
	if t := p.now(); t.Sub(p.last) >= p.interval {
		p.last = t
		p.print(n, false)
	}
}

func (p *progress) done(n int) {
	if p.w != nil && (p.tty || p.last != p.start) {
		p.print(n, true)
	}
}

func (p *progress) print(n int, final bool) {
	el := p.now().Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(n) / float64(p.total)
	}
	const width = 30
	filled := min(width, int(pct*width/100))
	line := fmt.Sprintf("history [%s%s] %d/%d rows %3.0f%% %.0f rows/s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, p.total, pct, rate)
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r%s\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}
