package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseRunCounts checks the maintained counts (StatsStore) against a
// full count of the runs after every kind of write, and the per-job reads.
func exerciseRunCounts(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"RandomMix":     checkCountsRandomMix,
		"Day100k":       checkCountsBusyDay,
		"RebuildRepair": checkCountsRebuild,
		"LastRuns":      checkLastRuns,
		"Durations":     checkDurations,
		"Invalid": func(t *testing.T, s store.Store) {
			_, err := s.JobDurations(t.Context(), "j", 0)
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.JobDurations(t.Context(), "j", store.MaxPageLimit+1)
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.JobLastRuns(t.Context(), make([]string, store.MaxPageLimit+1))
			requireKind(t, err, connecthub.KindInvalid)
			requireKind(t, s.StatsCompact(t.Context(), time.Time{}), connecthub.KindInvalid)
			requireKind(t, s.StatsRebuild(t.Context(), time.Time{}), connecthub.KindInvalid)
			_, err = s.Stats(t.Context(), time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}

// fullCount counts every run of s by paging through RunList: by job and
// finished status, and by the hour of finished_at (created_at without one)
// and finished status for the hours at or after since.
func fullCount(t *testing.T, s store.Store, since time.Time) *store.RunCounts {
	t.Helper()
	c := store.NewRunCounts()
	since = since.UTC().Truncate(time.Hour)
	p := store.RunListParams{Limit: store.MaxPageLimit}
	for {
		runs, next, err := s.RunList(t.Context(), p)
		if err != nil {
			t.Fatalf("RunList: %v", err)
		}
		for _, r := range runs {
			if !r.Status.Terminal() {
				continue
			}
			c.AddJob(r.JobID, r.Status, 1)
			at := r.CreatedAt
			if r.FinishedAt != nil {
				at = *r.FinishedAt
			}
			if !at.Before(since) {
				c.AddHour(at, r.Status, 1)
			}
		}
		if next == "" {
			return c
		}
		p.Cursor = next
	}
}

// checkCounts fails unless the maintained counts, and Stats, equal a full
// count.
func checkCounts(t *testing.T, s store.Store, now time.Time, when string) {
	t.Helper()
	since := connecthub.Stats24hSince(now)
	want := fullCount(t, s, now.Add(-store.HourlyRetention))
	got, err := s.RunCounts(t.Context(), now.Add(-store.HourlyRetention))
	if err != nil {
		t.Fatalf("%s: RunCounts: %v", when, err)
	}
	if !maps.EqualFunc(want.ByJob, got.ByJob, maps.Equal) {
		t.Fatalf("%s: counts by job = %v, a full count says %v", when, got.ByJob, want.ByJob)
	}
	if !maps.EqualFunc(want.ByHour, got.ByHour, maps.Equal) {
		t.Fatalf("%s: counts by hour = %v, a full count says %v", when, got.ByHour, want.ByHour)
	}
	st, err := s.Stats(t.Context(), now)
	if err != nil {
		t.Fatalf("%s: Stats: %v", when, err)
	}
	totals, day := want.Totals(), want.Since(since)
	for _, status := range connecthub.AllStatuses {
		if !status.Terminal() {
			continue
		}
		if st.Runs[status] != totals[status] {
			t.Errorf("%s: Stats.Runs[%s] = %d, a full count says %d", when, status, st.Runs[status], totals[status])
		}
		if n, ok := st.Runs24h[status]; !ok || n != day[status] {
			t.Errorf("%s: Stats.Runs24h[%s] = %d (present %v), a full count says %d", when, status, n, ok, day[status])
		}
	}
	if !st.Since24h.Equal(since) {
		t.Errorf("%s: Since24h = %s, want %s", when, st.Since24h, since)
	}
}

// mix is the state of a random sequence of store operations.
type mix struct {
	t    *testing.T
	s    store.Store
	rng  *rand.Rand
	now  time.Time
	jobs map[string]*connecthub.Job
	made int
}

// activeRuns lists the QUEUED or RUNNING runs, in a stable order.
func (m *mix) activeRuns(status ...connecthub.RunStatus) []*connecthub.Run {
	runs, _, err := m.s.RunList(m.t.Context(), store.RunListParams{Status: status, Limit: store.MaxPageLimit})
	if err != nil {
		m.t.Fatalf("RunList: %v", err)
	}
	return runs
}

func (m *mix) job() *connecthub.Job {
	keys := slices.Sorted(maps.Keys(m.jobs))
	return m.jobs[keys[m.rng.IntN(len(keys))]]
}

func (m *mix) newJob() {
	m.made++
	id := fmt.Sprintf("job-%d", m.made%5) // ids come back after a delete
	if _, ok := m.jobs[id]; ok {
		return
	}
	m.jobs[id] = newJob(m.t, m.s, id, func(j *connecthub.Job) {
		j.Concurrency = []string{connecthub.ConcurrencyAllow, connecthub.ConcurrencyForbid, connecthub.ConcurrencyReplace}[m.rng.IntN(3)]
		j.NextRunAt = ptr(m.now.Truncate(time.Minute))
		j.MaxAttempts = 2
	})
}

// step applies one random operation.
func (m *mix) step() {
	t, s, ctx := m.t, m.s, m.t.Context()
	m.now = m.now.Add(time.Duration(m.rng.IntN(40)) * time.Minute)
	if len(m.jobs) == 0 {
		m.newJob()
	}
	switch op := m.rng.IntN(12); op {
	case 0: // the scheduler fires a slot (the job's concurrency applies)
		j := getJob(t, s, m.job().ID)
		if j.NextRunAt == nil {
			return
		}
		slot := *j.NextRunAt
		p := fireParams(j, slot, ptr(slot.Add(time.Minute)), slot)
		p.Now = m.now
		for _, r := range p.Runs {
			r.CreatedAt, r.UpdatedAt, r.AvailableAt = m.now, m.now, m.now
		}
		fire(t, s, p)
	case 1: // run now
		queuedRun(t, s, m.job(), m.now)
	case 2: // a worker claims
		claim(t, s, store.RunClaimParams{Max: 1 + m.rng.IntN(3), Now: m.now})
	case 3, 4: // a worker reports an outcome
		running := m.activeRuns(connecthub.StatusRunning)
		if len(running) == 0 {
			return
		}
		r := running[m.rng.IntN(len(running))]
		o := store.RunOutcome{ID: r.ID, Node: r.Node, Now: m.now, Attempt: r.Attempt}
		switch m.rng.IntN(5) {
		case 0:
			o.Status = connecthub.StatusFailure
		case 1:
			o.Status = connecthub.StatusCanceled
		case 2:
			o.Status, o.ConsumeAttempt, o.RetryAt = connecthub.StatusQueued, true, m.now
		case 3:
			o.Status = connecthub.StatusQueued // hand-back
		default:
			o.Status = connecthub.StatusSuccess
		}
		complete(t, s, o)
	case 5: // cancel
		active := m.activeRuns(connecthub.StatusQueued, connecthub.StatusRunning)
		if len(active) == 0 {
			return
		}
		if _, err := s.RunCancel(ctx, active[m.rng.IntN(len(active))].ID, m.now); err != nil {
			t.Fatalf("RunCancel: %v", err)
		}
	case 6: // the rescuer, after the leases expired
		if _, err := s.RunRescue(ctx, m.now.Add(2*ttl), 100); err != nil {
			t.Fatalf("RunRescue: %v", err)
		}
	case 7: // a node falls silent and is declared dead
		upsertNode(t, s, testNode(node1, m.now))
		if _, _, err := s.NodeMarkDead(ctx, m.now.Add(time.Second), m.now.Add(time.Second)); err != nil {
			t.Fatalf("NodeMarkDead: %v", err)
		}
	case 8: // purge a job's finished runs
		if _, err := s.RunDeleteFinished(ctx, m.job().ID); err != nil {
			t.Fatalf("RunDeleteFinished: %v", err)
		}
	case 9: // delete a job (its runs go with it), or create one
		if m.rng.IntN(2) == 0 && len(m.jobs) > 1 {
			j := m.job()
			if err := s.JobDelete(ctx, j.ID); err != nil {
				t.Fatalf("JobDelete: %v", err)
			}
			delete(m.jobs, j.ID)
		} else {
			m.newJob()
		}
	case 10: // an importer's bulk insert of finished runs, some long ago
		var runs []*connecthub.Run
		for range 1 + m.rng.IntN(20) {
			created := m.now.Add(-time.Duration(m.rng.IntN(100)) * time.Hour)
			r := manualRun(m.job(), created)
			r.Status = []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusSkipped}[m.rng.IntN(3)]
			if m.rng.IntN(4) > 0 { // and some without a finish time
				r.StartedAt, r.FinishedAt = ptr(created), ptr(created.Add(time.Duration(m.rng.IntN(90))*time.Minute))
			}
			runs = append(runs, r)
		}
		insertRuns(t, s, runs...)
	default: // the maintenance pass
		if err := s.StatsCompact(ctx, m.now); err != nil {
			t.Fatalf("StatsCompact: %v", err)
		}
	}
}

func checkCountsRandomMix(t *testing.T, s store.Store) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	m := &mix{t: t, s: s, rng: rand.New(rand.NewPCG(uint64(seed), 7)), now: t0, jobs: map[string]*connecthub.Job{}}
	for i := range 300 {
		m.step()
		if i%50 == 49 {
			checkCounts(t, s, m.now, fmt.Sprintf("after %d operations", i+1))
		}
	}
	if err := s.StatsCompact(t.Context(), m.now); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, m.now, "after a compaction")
	if err := s.StatsRebuild(t.Context(), m.now); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, m.now, "after a rebuild")
	for _, j := range slices.Sorted(maps.Keys(m.jobs)) {
		if err := s.JobDelete(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	checkCounts(t, s, m.now, "after deleting every job")
	if err := s.StatsCompact(t.Context(), m.now); err != nil {
		t.Fatal(err)
	}
	got, err := s.RunCounts(t.Context(), m.now.Add(-store.HourlyRetention))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ByJob) != 0 || len(got.ByHour) != 0 {
		t.Errorf("counts with no runs left = %+v, want none", got)
	}
}

// checkCountsBusyDay writes busyDayRuns finished runs over 50 hours, in bulk
// as an importer would (through store.HistoryLoader where the driver has
// it, else RunInsert), and checks the 24-hour counts and every hour's
// count against what it wrote. The 50 hours cross midnight twice, the
// 24-hour window's first hour and the hourly table's 48-hour edge, so a
// run counted in the wrong hour, or an hour kept or dropped at either
// edge, shows.
func checkCountsBusyDay(t *testing.T, s store.Store) {
	const total = busyDayRuns
	now := t0
	since := connecthub.Stats24hSince(now)
	h := store.History{
		Jobs: []*connecthub.Job{newJob(t, s, "busy"), newJob(t, s, "busier")},
		Runs: total, From: now.Add(-50 * time.Hour), Step: 50 * time.Hour / total,
	}
	want := map[connecthub.RunStatus]int64{}
	wantCounts := store.NewRunCounts()
	for i := range int64(total) {
		fin, status := h.HistoryFinished(i), store.HistoryStatus(i)
		if !fin.Before(since) {
			want[status]++
		}
		wantCounts.AddJob(h.Jobs[i%2].ID, status, 1)
		if !fin.Before(now.Add(-store.HourlyRetention).Truncate(time.Hour)) {
			wantCounts.AddHour(fin, status, 1)
		}
	}
	if in24h := want[connecthub.StatusSuccess] + want[connecthub.StatusFailure] + want[connecthub.StatusSkipped]; in24h == 0 || in24h == total ||
		len(wantCounts.ByHour) == 0 || h.From.After(now.Add(-store.HourlyRetention)) {
		t.Fatalf("the history does not cross the 24-hour and 48-hour edges: %d of %d runs in 24 hours, from %v", in24h, total, h.From)
	}
	if hl, ok := s.(store.HistoryLoader); ok {
		// In two calls, to check that Offset continues the numbering.
		first := h
		first.Runs = total / 3
		if err := hl.LoadHistory(t.Context(), first); err != nil {
			t.Fatalf("LoadHistory: %v (%v)", err, errors.Unwrap(err))
		}
		rest := h
		rest.Offset, rest.Runs = first.Runs, total-first.Runs
		if err := hl.LoadHistory(t.Context(), rest); err != nil {
			t.Fatal(err)
		}
	} else {
		batch := make([]*connecthub.Run, 0, 1000)
		for i := range int64(total) {
			created := h.From.Add(time.Duration(i) * h.Step)
			r := cronRun(h.Jobs[i%int64(len(h.Jobs))], created, created)
			r.Status = store.HistoryStatus(i)
			r.StartedAt, r.FinishedAt = ptr(created), ptr(h.HistoryFinished(i))
			if batch = append(batch, r); len(batch) == cap(batch) || i == total-1 {
				insertRuns(t, s, batch...)
				batch = batch[:0]
			}
		}
	}
	st, err := s.Stats(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusSkipped} {
		if st.Runs24h[status] != want[status] {
			t.Errorf("runs_24h[%s] = %d, want %d", status, st.Runs24h[status], want[status])
		}
	}
	if n := st.Runs[connecthub.StatusSuccess] + st.Runs[connecthub.StatusFailure] + st.Runs[connecthub.StatusSkipped]; n != total {
		t.Errorf("finished runs = %d, want %d", n, total)
	}
	// The history reads back as runs: newest first, with ids of their
	// creation time and every field a list shows.
	runs, _, err := s.RunList(t.Context(), store.RunListParams{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range runs {
		i := int64(total - 1 - k)
		created := h.From.Add(time.Duration(i) * h.Step)
		if r.JobID != h.Jobs[i%2].ID || r.Status != store.HistoryStatus(i) || !r.CreatedAt.Equal(us(created)) ||
			r.FinishedAt == nil || !r.FinishedAt.Equal(us(h.HistoryFinished(i))) || r.Snapshot.Handler != "noop" {
			t.Errorf("run %d of the history = %+v", i, r)
		}
		if id, err := ulid.ParseStrict(r.ID); err != nil || id.Time() != uint64(created.UnixMilli()) {
			t.Errorf("run %d's id %s: %v, time %d, want %d", i, r.ID, err, id.Time(), created.UnixMilli())
		}
	}
	got, err := s.RunCounts(t.Context(), now.Add(-store.HourlyRetention))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(wantCounts.ByJob, got.ByJob, maps.Equal) || !maps.EqualFunc(wantCounts.ByHour, got.ByHour, maps.Equal) {
		t.Errorf("counts = %v by job, %v by hour; want %v and %v", got.ByJob, got.ByHour, wantCounts.ByJob, wantCounts.ByHour)
	}
}

// checkCountsRebuild checks that StatsRebuild recounts what the triggers
// counted, twice over, and that hours a compaction pruned stay out of the
// rebuilt counts. Each driver's own tests break the counts and repair them.
func checkCountsRebuild(t *testing.T, s store.Store) {
	j := newJob(t, s, "j")
	for i := range 5 {
		r := runningRun(t, s, j, node1, t0.Add(time.Duration(i)*time.Minute))
		complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0.Add(time.Hour)})
	}
	if err := s.StatsRebuild(t.Context(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, t0.Add(time.Hour), "after a rebuild")
	if err := s.StatsRebuild(t.Context(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, t0.Add(time.Hour), "after a second rebuild")
	// Hours pruned by a compaction are not counted again by a rebuild.
	later := t0.Add(72 * time.Hour)
	if err := s.StatsCompact(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	if err := s.StatsRebuild(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, later, "after the hours aged out")
}

func checkLastRuns(t *testing.T, s store.Store) {
	a, b := newJob(t, s, "a"), newJob(t, s, "b")
	newJob(t, s, "none")
	done := runningRun(t, s, a, node1, t0)
	complete(t, s, store.RunOutcome{ID: done.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0.Add(time.Minute)})
	older := runningRun(t, s, b, node1, t0)
	newer := runningRun(t, s, b, node1, t0.Add(time.Second))
	complete(t, s, store.RunOutcome{ID: newer.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0.Add(2 * time.Minute)})
	complete(t, s, store.RunOutcome{ID: older.ID, Node: node1, Status: connecthub.StatusCanceled, Now: t0.Add(3 * time.Minute)})
	queuedRun(t, s, a, t0.Add(time.Hour)) // newer, but not finished
	got, err := s.JobLastRuns(t.Context(), []string{"a", "b", "none", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]connecthub.RunSummary{
		"a": {ID: done.ID, Status: connecthub.StatusFailure, Trigger: connecthub.TriggerManual, FinishedAt: ptr(us(t0.Add(time.Minute)))},
		"b": {ID: newer.ID, Status: connecthub.StatusSuccess, Trigger: connecthub.TriggerManual, FinishedAt: ptr(us(t0.Add(2 * time.Minute)))},
	}
	if len(got) != len(want) {
		t.Fatalf("last runs = %v, want jobs a and b", got)
	}
	for id, w := range want {
		g := got[id]
		if g == nil || g.ID != w.ID || g.Status != w.Status || g.Trigger != w.Trigger {
			t.Errorf("last run of %s = %+v, want %+v", id, g, w)
			continue
		}
		checkTimePtr(t, "finished_at", w.FinishedAt, g.FinishedAt)
	}
	if got, err := s.JobLastRuns(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("JobLastRuns(nil) = %v, %v; want none", got, err)
	}
}

func checkDurations(t *testing.T, s store.Store) {
	j := newJob(t, s, "j")
	newJob(t, s, "other")
	var want []time.Duration
	for i := range 25 {
		start := t0.Add(time.Duration(i) * time.Minute)
		r := runningRun(t, s, j, node1, start)
		d := time.Duration(i+1) * time.Second
		status := connecthub.StatusSuccess
		if i%5 == 4 {
			status = connecthub.StatusFailure
		} else {
			want = append(want, d)
		}
		complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: status, Now: r.StartedAt.Add(d)})
	}
	slices.Reverse(want) // newest first
	got, err := s.JobDurations(t.Context(), "j", 8)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[:8]) {
		t.Errorf("durations = %v, want %v", got, want[:8])
	}
	if got, err := s.JobDurations(t.Context(), "j", 100); err != nil || len(got) != len(want) {
		t.Errorf("all durations = %v, %v; want %d", got, err, len(want))
	}
	for _, id := range []string{"other", "missing"} {
		if got, err := s.JobDurations(t.Context(), id, 20); err != nil || len(got) != 0 {
			t.Errorf("durations of %s = %v, %v; want none", id, got, err)
		}
	}
}
