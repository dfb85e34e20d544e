package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
)

func TestSuccessRecordsLogMessageAndResult(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	got := make(chan *handler.Task, 1)
	h.handle(t, "greet", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		got <- task
		task.Log.Info("hello from the handler")
		task.Log.Info("calling the API with token " + task.Secret("api_key"))
		task.Log.Warn("slow answer")
		return &handler.Result{Message: "greeted 3 people", Data: map[string]int{"n": 3}}, nil
	})
	token, err := h.keys.EncryptJSON(map[string]any{"api_key": "s3cr3t-value", "port": 8443})
	if err != nil {
		t.Fatal(err)
	}
	j := h.job(t, "greet.job", "greet", func(j *connecthub.Job) {
		j.PublicCfg = []byte(`{"who":"world"}`)
		j.SecretCfg, j.HasSecret, j.SecretKeys = token, true, []string{"api_key", "port"}
	})
	reg := prometheus.NewRegistry()
	h.start(t, "node-a", nil, func(c *Config) { c.Metrics = reg })
	id := h.enqueue(t, j, 1)[0]

	run := h.waitStatus(t, id, connecthub.StatusSuccess)
	task := recv(t, got, "the handler call")

	if task.RunID != id || task.JobID != j.ID || task.Attempt != 1 || task.MaxAttempts != 1 || task.Trigger != "manual" {
		t.Errorf("task ids = %q %q attempt %d/%d trigger %q", task.RunID, task.JobID, task.Attempt, task.MaxAttempts, task.Trigger)
	}
	if string(task.Config) != `{"who":"world"}` {
		t.Errorf("task.Config = %s", task.Config)
	}
	if task.Secrets["api_key"] != "s3cr3t-value" || task.Secrets["port"] != "8443" {
		t.Errorf("task.Secrets = %v", task.Secrets)
	}
	if !strings.HasPrefix(run.Message, "greeted 3 people") || !strings.Contains(run.Message, "slow answer") {
		t.Errorf("message = %q, want the result message and the warning", run.Message)
	}
	if string(run.Result) != `{"n":3}` {
		t.Errorf("result = %s", run.Result)
	}
	if run.Error != "" || run.Traceback != "" {
		t.Errorf("error = %q, traceback = %q", run.Error, run.Traceback)
	}
	// The log is complete as soon as the run is terminal.
	log := h.runLog(t, id)
	for _, want := range []string{"hello from the handler", "calling the API with token ******", "slow answer"} {
		if !strings.Contains(log, want) {
			t.Errorf("run log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cr3t-value") {
		t.Errorf("run log shows the secret:\n%s", log)
	}
	if n := counterValue(t, reg, "connecthub_runs_total", map[string]string{"job": j.ID, "status": "SUCCESS", "trigger": "manual"}); n != 1 {
		t.Errorf("connecthub_runs_total{SUCCESS} = %v, want 1", n)
	}
	if n := histogramCount(t, reg, "connecthub_run_duration_seconds", map[string]string{"job": j.ID}); n != 1 {
		t.Errorf("connecthub_run_duration_seconds count = %v, want 1", n)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	type call struct {
		attempt int
		at      time.Time
		cause   error
	}
	tests := []struct {
		name        string
		maxAttempts int
		timeout     time.Duration
		handler     func(ctx context.Context, task *handler.Task) (*handler.Result, error)
		wantStatus  connecthub.RunStatus
		wantCalls   int
		wantError   string // prefix of the final error
		wantHistory []string
		wantTrace   string // substring of the traceback
	}{
		{
			name:        "error retried until attempts run out",
			maxAttempts: 3,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				return nil, fmt.Errorf("sync attempt %d: %w", task.Attempt, errors.New("upstream 502"))
			},
			wantStatus:  connecthub.StatusFailure,
			wantCalls:   3,
			wantError:   "sync attempt 3: upstream 502",
			wantHistory: []string{"sync attempt 1: upstream 502", "sync attempt 2: upstream 502"},
		},
		{
			name:        "retry succeeds",
			maxAttempts: 3,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				if task.Attempt == 1 {
					return nil, errors.New("flaky")
				}
				return &handler.Result{Message: "ok"}, nil
			},
			wantStatus:  connecthub.StatusSuccess,
			wantCalls:   2,
			wantHistory: []string{"flaky"},
		},
		{
			name:        "permanent error is not retried",
			maxAttempts: 3,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				return nil, handler.Permanent(errors.New("public_cfg.url is missing"))
			},
			wantStatus: connecthub.StatusFailure,
			wantCalls:  1,
			wantError:  "public_cfg.url is missing",
		},
		{
			name:        "timeout",
			maxAttempts: 1,
			timeout:     30 * time.Millisecond,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			wantStatus: connecthub.StatusFailure,
			wantCalls:  1,
			wantError:  "timeout: run exceeded 30ms",
		},
		{
			name:        "timeout is retried",
			maxAttempts: 2,
			timeout:     30 * time.Millisecond,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				if task.Attempt == 1 {
					<-ctx.Done()
					return nil, fmt.Errorf("fetch: %w", ctx.Err())
				}
				return &handler.Result{}, nil
			},
			wantStatus:  connecthub.StatusSuccess,
			wantCalls:   2,
			wantHistory: []string{"timeout: run exceeded 30ms"},
		},
		{
			name:        "panic is a failure with the stack, not retried",
			maxAttempts: 3,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				var m map[string]int
				m["boom"]++ // assignment to entry in nil map
				return nil, nil
			},
			wantStatus: connecthub.StatusFailure,
			wantCalls:  1,
			wantError:  "panic: assignment to entry in nil map",
			wantTrace:  "worker_test.go",
		},
		{
			name:        "result data that is not JSON",
			maxAttempts: 2,
			handler: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				return &handler.Result{Message: "done", Data: make(chan int)}, nil
			},
			wantStatus: connecthub.StatusFailure,
			wantCalls:  1,
			wantError:  "handler result: Data cannot be encoded as JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var (
				mu    sync.Mutex
				calls []call
			)
			h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				mu.Lock()
				calls = append(calls, call{attempt: task.Attempt, at: time.Now()})
				mu.Unlock()
				return tt.handler(ctx, task)
			})
			j := h.job(t, "job", "h", func(j *connecthub.Job) {
				j.MaxAttempts = tt.maxAttempts
				j.Timeout = connecthub.Duration(tt.timeout)
				j.RetryBackoff = connecthub.Duration(20 * time.Millisecond)
			})
			// Rand 0 makes the waits exactly half the nominal back-off:
			// 10ms after attempt 1, 20ms after attempt 2.
			h.start(t, "node-a", nil, func(c *Config) { c.Rand = func() float64 { return 0 } })
			id := h.enqueue(t, j, 1)[0]

			run := h.waitRun(t, id, "to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
			if run.Status != tt.wantStatus {
				t.Fatalf("status = %s (error %q), want %s", run.Status, run.Error, tt.wantStatus)
			}
			if !strings.HasPrefix(run.Error, tt.wantError) || (tt.wantError == "" && run.Error != "") {
				t.Errorf("error = %q, want prefix %q", run.Error, tt.wantError)
			}
			if !strings.Contains(run.Traceback, tt.wantTrace) || (tt.wantTrace == "" && run.Traceback != "") {
				t.Errorf("traceback = %q, want it to contain %q", run.Traceback, tt.wantTrace)
			}
			if run.Attempt != tt.wantCalls {
				t.Errorf("attempt = %d, want %d", run.Attempt, tt.wantCalls)
			}
			var history []string
			for i, a := range run.Attempts {
				history = append(history, a.Error)
				if a.Attempt != i+1 {
					t.Errorf("attempts[%d].attempt = %d", i, a.Attempt)
				}
			}
			if strings.Join(history, "|") != strings.Join(tt.wantHistory, "|") {
				t.Errorf("attempts history = %q, want %q", history, tt.wantHistory)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != tt.wantCalls {
				t.Fatalf("handler called %d times, want %d", len(calls), tt.wantCalls)
			}
			for i := 1; i < len(calls); i++ {
				if calls[i].attempt != i+1 {
					t.Errorf("call %d had attempt %d", i+1, calls[i].attempt)
				}
				// The retry is not claimable before its back-off has passed
				// (the store keeps microseconds, hence the slack).
				min := Backoff(20*time.Millisecond, 0, i, 0) - time.Millisecond
				if gap := calls[i].at.Sub(calls[i-1].at); gap < min {
					t.Errorf("attempt %d started %s after attempt %d, want at least %s", i+1, gap, i, min)
				}
			}
		})
	}
}

func TestRunsThatCannotExecute(t *testing.T) {
	t.Parallel()
	otherKey, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := secret.Parse(otherKey, "other.key")
	if err != nil {
		t.Fatal(err)
	}
	foreignToken, err := other.EncryptJSON(map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		handler   string
		secret    string
		wantError string
	}{
		{"unknown handler", "not.registered", "", `unknown handler "not.registered"`},
		{"secrets encrypted with another key", "h", foreignToken, "secret_cfg cannot be decrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var calls atomic.Int32
			h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				calls.Add(1)
				return nil, nil
			})
			j := h.job(t, "job", tt.handler, func(j *connecthub.Job) {
				j.MaxAttempts = 3 // would be retried if it were an ordinary error
				if tt.secret != "" {
					j.SecretCfg, j.HasSecret, j.SecretKeys = tt.secret, true, []string{"k"}
				}
			})
			h.start(t, "node-a", nil, nil)
			id := h.enqueue(t, j, 1)[0]
			run := h.waitRun(t, id, "to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
			if run.Status != connecthub.StatusFailure || !strings.HasPrefix(run.Error, tt.wantError) || run.Attempt != 1 {
				t.Errorf("run = %s attempt %d error %q, want FAILURE attempt 1 error %q", run.Status, run.Attempt, run.Error, tt.wantError)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("handler called %d times", n)
			}
		})
	}
}

func TestCancelRunningRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan struct{})
	cause := make(chan error, 1)
	h.handle(t, "wait", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	j := h.job(t, "job", "wait", func(j *connecthub.Job) { j.MaxAttempts = 3 })
	// Periodic heartbeats are an hour apart: only the cancel wake-up can
	// make the worker notice the request in time.
	h.start(t, "node-a", nil, nil)
	id := h.enqueue(t, j, 1)[0]
	recv(t, started, "the handler to start")

	if _, err := h.st.RunCancel(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	run := h.waitRun(t, id, "to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
	if run.Status != connecthub.StatusCanceled || run.Error != connecthub.ReasonCanceled || run.Attempt != 1 {
		t.Errorf("run = %s attempt %d error %q, want CANCELED attempt 1 error %q", run.Status, run.Attempt, run.Error, connecthub.ReasonCanceled)
	}
	if c := recv(t, cause, "the handler's cause"); !errors.Is(c, errCanceled) {
		t.Errorf("context cause = %v, want %v", c, errCanceled)
	}
}

// TestLeaseLostDropsOutcome: a run rescued from under the worker (here to
// FAILURE, since it has no attempts left) is reported lost by the next
// heartbeat; the worker cancels the handler and records nothing.
func TestLeaseLostDropsOutcome(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan struct{})
	cause := make(chan error, 1)
	h.handle(t, "wait", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return &handler.Result{Message: "finished anyway"}, nil
	})
	j := h.job(t, "job", "wait", nil)
	src := &recordingSource{Source: h.source(t, "node-a")}
	w := h.start(t, "node-a", src, func(c *Config) { c.Heartbeat = 10 * time.Millisecond })
	id := h.enqueue(t, j, 1)[0]
	recv(t, started, "the handler to start")

	rescued, err := h.st.RunRescue(context.Background(), time.Now().Add(time.Hour), 10)
	if err != nil || len(rescued) != 1 {
		t.Fatalf("RunRescue = %d runs, %v", len(rescued), err)
	}
	if c := recv(t, cause, "the handler's cause"); !errors.Is(c, errLeaseLost) {
		t.Errorf("context cause = %v, want %v", c, errLeaseLost)
	}
	waitFor(t, "the slot to be released", func() bool { return w.Running() == 0 })
	if got := src.recorded(id); len(got) != 0 {
		t.Errorf("worker tried to record %+v for a run it lost", got)
	}
	run, err := h.st.RunGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != connecthub.StatusFailure || run.Error != connecthub.ReasonWorkerLost || run.Message != "" {
		t.Errorf("run = %s error %q message %q, want the rescuer's FAILURE %q", run.Status, run.Error, run.Message, connecthub.ReasonWorkerLost)
	}
}

// TestReclaimedRunCancelsStaleAttempt: a run rescued and re-queued while
// its handler still runs here may be claimed again by this very node before
// any heartbeat tells it the lease was lost. The old attempt must be
// cancelled and must not record its outcome over the new one.
func TestReclaimedRunCancelsStaleAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan struct{})
	cause := make(chan error, 1)
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		if task.Attempt == 1 {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return &handler.Result{Message: "stale attempt"}, nil
		}
		return &handler.Result{Message: "second attempt"}, nil
	})
	j := h.job(t, "job", "h", func(j *connecthub.Job) { j.MaxAttempts = 2 })
	// Short leases and no periodic heartbeat: the lease expires while
	// attempt 1 runs.
	src := &recordingSource{Source: h.sourceTTL(t, "node-a", 20*time.Millisecond)}
	h.start(t, "node-a", src, nil)
	id := h.enqueue(t, j, 1)[0]
	recv(t, started, "attempt 1 to start")

	waitFor(t, "the lease to expire and the run to be rescued", func() bool {
		rescued, err := h.st.RunRescue(context.Background(), time.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(rescued) == 1
	})
	run := h.waitStatus(t, id, connecthub.StatusSuccess)
	if run.Attempt != 2 || run.Message != "second attempt" {
		t.Errorf("run attempt %d message %q, want attempt 2 %q", run.Attempt, run.Message, "second attempt")
	}
	if c := recv(t, cause, "attempt 1's cause"); !errors.Is(c, errLeaseLost) {
		t.Errorf("attempt 1 context cause = %v, want %v", c, errLeaseLost)
	}
	for _, o := range src.recorded(id) {
		if o.Message == "stale attempt" {
			t.Errorf("the stale attempt's outcome was recorded: %+v", o)
		}
	}
}

func TestStopLetsRunsInFlightFinish(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan struct{})
	release := make(chan struct{})
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		close(started)
		select {
		case <-release:
			return &handler.Result{Message: "finished"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	j := h.job(t, "job", "h", nil)
	w := h.start(t, "node-a", nil, nil)
	id := h.enqueue(t, j, 1)[0]
	recv(t, started, "the handler to start")

	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()
	// Once claiming has stopped, a new run must stay queued.
	recv(t, w.claimDone, "claiming to stop")
	later := h.enqueue(t, j, 1)[0]
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v while a run was in flight", err)
	default:
	}
	close(release)
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if run := h.waitStatus(t, id, connecthub.StatusSuccess); run.Message != "finished" {
		t.Errorf("message = %q", run.Message)
	}
	run, err := h.st.RunGet(context.Background(), later)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != connecthub.StatusQueued || run.StartedAt != nil {
		t.Errorf("run enqueued during Stop = %s started %v, want QUEUED and never started", run.Status, run.StartedAt)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := w.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestStopHandsBackUnfinishedRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ignoreCtx bool
	}{
		{"handler honours its context", false},
		{"handler ignores its context", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			started := make(chan struct{})
			release := make(chan struct{})
			returned := make(chan struct{})
			cause := make(chan error, 1)
			h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				defer close(returned)
				close(started)
				if tt.ignoreCtx {
					<-release
					return &handler.Result{Message: "too late"}, nil
				}
				<-ctx.Done()
				cause <- context.Cause(ctx)
				return nil, ctx.Err()
			})
			t.Cleanup(func() {
				close(release)
				<-returned // no goroutine left behind for goleak
			})
			j := h.job(t, "job", "h", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			w := h.start(t, "node-a", nil, func(c *Config) {
				c.ShutdownTimeout = 30 * time.Millisecond
				c.HandlerGrace = 30 * time.Millisecond
			})
			id := h.enqueue(t, j, 1)[0]
			recv(t, started, "the handler to start")

			stopped := make(chan error, 1)
			go func() { stopped <- w.Stop(context.Background()) }()
			if err := recv(t, stopped, "Stop"); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			run, err := h.st.RunGet(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != connecthub.StatusQueued || run.Attempt != 1 || len(run.Attempts) != 0 || run.Node != "" {
				t.Errorf("run = %s attempt %d history %v node %q, want handed back: QUEUED attempt 1, no history, no node",
					run.Status, run.Attempt, run.Attempts, run.Node)
			}
			if tt.ignoreCtx {
				if n := w.Running(); n != 1 {
					t.Errorf("Running() = %d, want the abandoned handler to keep its slot", n)
				}
				close(release)
				<-returned
				release = make(chan struct{}) // for the cleanup
				waitFor(t, "the abandoned handler's slot", func() bool { return w.Running() == 0 })
				// Its late result changes nothing.
				if run2, err := h.st.RunGet(context.Background(), id); err != nil || run2.Status != connecthub.StatusQueued {
					t.Errorf("after the abandoned handler returned: %v %v", run2.Status, err)
				}
			} else if c := recv(t, cause, "the handler's cause"); !errors.Is(c, errShutdown) {
				t.Errorf("context cause = %v, want %v", c, errShutdown)
			}
		})
	}
}

// TestTimeoutWithHandlerIgnoringContext: the run ends FAILURE "timeout"
// HandlerGrace after its timeout although its handler goes on; the slot
// stays taken until the handler returns.
func TestTimeoutWithHandlerIgnoringContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	release := make(chan struct{})
	returned := make(chan struct{})
	h.handle(t, "stuck", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		defer close(returned)
		<-release
		return &handler.Result{Message: "too late"}, nil
	})
	j := h.job(t, "job", "stuck", func(j *connecthub.Job) { j.Timeout = connecthub.Duration(20 * time.Millisecond) })
	w := h.start(t, "node-a", nil, func(c *Config) { c.HandlerGrace = 20 * time.Millisecond })
	id := h.enqueue(t, j, 1)[0]

	run := h.waitRun(t, id, "to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
	if run.Status != connecthub.StatusFailure || run.Error != "timeout: run exceeded 20ms" {
		t.Errorf("run = %s error %q, want FAILURE timeout", run.Status, run.Error)
	}
	if n := w.Running(); n != 1 {
		t.Errorf("Running() = %d while the abandoned handler runs, want 1", n)
	}
	close(release)
	<-returned
	waitFor(t, "the slot to be released", func() bool { return w.Running() == 0 })
	if run, err := h.st.RunGet(context.Background(), id); err != nil || run.Message != "" {
		t.Errorf("the late result was recorded: message %q, %v", run.Message, err)
	}
}

// TestConcurrencyLimit checks the bounds the package doc promises: at most
// Concurrency handlers run at once, and the runs the node holds RUNNING
// exceed Concurrency only by the outcomes waiting to be recorded, of which
// there are at most Concurrency. Outcomes are held back (Complete blocks)
// so that they pile up until the worker cannot go on.
func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const limit, runs = 3, 30
	h := newHarness(t)
	var active, peak, calls atomic.Int32
	gate := make(chan struct{})
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		calls.Add(1)
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		return nil, nil
	})
	j := h.job(t, "job", "h", nil)
	ids := h.enqueue(t, j, runs)
	src := newHeldSource(h.source(t, "node-a"))
	w := h.start(t, "node-a", src, func(c *Config) { c.Concurrency = limit })

	// The handlers block: the slots are full, and so is the store's view.
	waitFor(t, "the worker to fill its slots", func() bool { return active.Load() == limit })
	if n := countRunning(t, h); n != limit || w.Running() != limit {
		t.Errorf("%d runs RUNNING in the store, Running() = %d, want %d", n, w.Running(), limit)
	}

	// The handlers return, but no outcome can be written: the completer
	// fills up with limit outcomes, then more runs finish and wait for
	// room with their slots taken, and claiming stops.
	close(gate)
	ran, held := waitBlocked(t, w)
	if max := limit + completerLimit(limit); held <= limit || held > max {
		t.Errorf("the worker holds %d runs with the outcomes held back, want more than Concurrency = %d and at most its slots and the completer's limit, %d", held, limit, max)
	}
	if n := countRunning(t, h); n != held {
		t.Errorf("%d runs RUNNING in the store, want the %d the worker holds", n, held)
	}
	if n := calls.Load(); int(n) != ran {
		t.Errorf("%d handler calls with the outcomes held back, want one per run that ran = %d", n, ran)
	}

	src.release()
	for _, id := range ids {
		h.waitStatus(t, id, connecthub.StatusSuccess)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency = %d, want %d", p, limit)
	}
	if n := calls.Load(); n != runs {
		t.Errorf("%d handler calls, want %d", n, runs)
	}
}

// TestFreeSlotClaimedWhileHandlersRun: the claim loop waits for the tasks
// that are about to free their slots, but never for a handler: a slot freed
// while another handler runs on is used for the next queued run at once.
func TestFreeSlotClaimedWhileHandlersRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan string, 2)
	var gates sync.Map // run id → chan struct{} that ends its handler
	h.handle(t, "slow", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		gate, _ := gates.LoadOrStore(task.RunID, make(chan struct{}))
		started <- task.RunID
		select {
		case <-gate.(chan struct{}):
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	h.handle(t, "quick", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "quick"}, nil
	})
	slow := h.job(t, "slow", "slow", nil)
	quick := h.job(t, "quick", "quick", nil)
	slowIDs := h.enqueue(t, slow, 2)
	h.start(t, "node-a", nil, func(c *Config) { c.Concurrency = 2 })
	recv(t, started, "a slow handler to start")
	recv(t, started, "the other slow handler to start")

	// Both slots are taken; the claim loop waits for one.
	id := h.enqueue(t, quick, 1)[0]
	gate, _ := gates.LoadOrStore(slowIDs[0], make(chan struct{}))
	close(gate.(chan struct{}))
	if run := h.waitStatus(t, id, connecthub.StatusSuccess); run.Message != "quick" {
		t.Errorf("message = %q", run.Message)
	}
	run, err := h.st.RunGet(context.Background(), slowIDs[1])
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != connecthub.StatusRunning {
		t.Errorf("the other slow run is %s, want still RUNNING", run.Status)
	}
	gate, _ = gates.LoadOrStore(slowIDs[1], make(chan struct{}))
	close(gate.(chan struct{}))
	h.waitStatus(t, slowIDs[1], connecthub.StatusSuccess)
}

// TestPendingOutcomeKeepsLease: a run whose handler returned but whose
// outcome is not written yet is still heartbeated, so its lease cannot
// expire while it waits.
func TestPendingOutcomeKeepsLease(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	h := newHarness(t)
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "done"}, nil
	})
	j := h.job(t, "job", "h", nil)
	src := newHeldSource(h.sourceTTL(t, "node-a", ttl))
	h.start(t, "node-a", src, func(c *Config) { c.Heartbeat = 10 * time.Millisecond })
	id := h.enqueue(t, j, 1)[0]

	recv(t, src.entered, "the outcome to be written")
	waiting := time.Now()
	h.waitRun(t, id, "to have its lease extended after its handler returned", func(r *connecthub.Run) bool {
		return r.Status == connecthub.StatusRunning && r.LeaseExpiresAt != nil && r.LeaseExpiresAt.After(waiting.Add(ttl))
	})
	src.release()
	if run := h.waitStatus(t, id, connecthub.StatusSuccess); run.Message != "done" {
		t.Errorf("message = %q", run.Message)
	}
}

// TestStopFlushesPendingOutcomes: Stop waits for the outcomes still to be
// written, including those of runs that finished while the completer was
// full, and records them all.
func TestStopFlushesPendingOutcomes(t *testing.T) {
	t.Parallel()
	const limit, runs = 2, 10
	h := newHarness(t)
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "done"}, nil
	})
	j := h.job(t, "job", "h", nil)
	ids := h.enqueue(t, j, runs)
	src := newHeldSource(h.source(t, "node-a"))
	w := h.start(t, "node-a", src, func(c *Config) { c.Concurrency = limit })
	ran, _ := waitBlocked(t, w)

	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()
	recv(t, w.claimDone, "claiming to stop")
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v before the outcomes were written", err)
	default:
	}
	src.release()
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	var done, queued int
	for _, id := range ids {
		run, err := h.st.RunGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		switch run.Status {
		case connecthub.StatusSuccess:
			done++
		case connecthub.StatusQueued:
			queued++
		default:
			t.Errorf("run %s = %s after Stop, want SUCCESS, or QUEUED if it never ran", id, run.Status)
		}
	}
	// The runs claimed ahead that never started are handed back.
	if done != ran || queued != runs-ran {
		t.Errorf("after Stop: %d SUCCESS, %d QUEUED; want %d and %d", done, queued, ran, runs-ran)
	}
}

// TestStopWithDatabaseDown: when no outcome can be written, Stop does not
// wait for room in the completer forever: it gives up after the final
// flush and says how many outcomes were lost.
func TestStopWithDatabaseDown(t *testing.T) {
	t.Parallel()
	const limit = 2
	h := newHarness(t)
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) { return nil, nil })
	j := h.job(t, "job", "h", nil)
	ids := h.enqueue(t, j, 10)
	src := &recordingSource{Source: h.source(t, "node-a"), failFirst: math.MaxInt}
	w, err := New(Config{
		Source: src, Registry: h.reg, Node: "node-a", Concurrency: limit,
		Heartbeat: time.Hour, PollInterval: 20 * time.Millisecond, Logger: h.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.finalFlush = 50 * time.Millisecond
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, held := waitBlocked(t, w)
	err = w.Stop(context.Background())
	// Every run the worker claimed is lost, and so still RUNNING: exactly
	// those it held when it was found blocked, including the runs claimed
	// ahead, whose hand-back cannot be recorded either.
	lost := 0
	for _, id := range ids {
		run, err := h.st.RunGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == connecthub.StatusRunning {
			lost++
		}
	}
	if lost != held {
		t.Errorf("%d runs RUNNING after Stop, want the %d held", lost, held)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d run outcomes could not be recorded", lost)) {
		t.Fatalf("Stop = %v, want %d outcomes reported lost", err, lost)
	}
	if n := w.Running(); n != 0 {
		t.Errorf("Running() = %d after Stop, want 0", n)
	}
}

// waitBlocked waits until w is stuck on outcomes it cannot write: every
// place in the completer taken, every slot held by a run waiting for one,
// and the claim loop waiting for a slot over the whole check (a claim in
// flight could still start one more run). It returns how many runs ran
// (their outcomes are queued or waiting for a place) and how many the
// worker holds: those, and the runs claimed ahead of a slot while the
// completer still had room (see ahead.go), which wait for a slot that no
// longer frees and never start. It checks that at most Concurrency runs
// wait ahead.
func waitBlocked(t *testing.T, w *Worker) (ran, held int) {
	t.Helper()
	var waiting int
	waitFor(t, "the completer and the slots to fill up", func() bool {
		before := w.slotWait.Load()
		if before%2 == 0 {
			return false
		}
		c := w.comp
		c.mu.Lock()
		waiting = len(c.waitq)
		// Every slot in use is taken by a run waiting for a place. A
		// slot may stay free (the claim loop waits for the pipe, which
		// those runs are in, rather than claim a partial batch), but
		// not while a run claimed ahead waits for one: the claim loop
		// is about to start it.
		ahead := w.Running() - c.placed - waiting
		blocked := c.placed == c.limit && waiting > 0 && int64(waiting) == w.used.Load() &&
			(ahead == 0 || waiting == w.cfg.Concurrency)
		c.mu.Unlock()
		return blocked && w.slotWait.Load() == before
	})
	ran, held = w.comp.limit+waiting, w.Running()
	if ahead := held - ran; ahead < 0 || ahead > w.cfg.Concurrency {
		t.Errorf("Running() = %d with %d outcomes queued and %d waiting: %d runs claimed ahead, want 0 to Concurrency = %d",
			held, w.comp.limit, waiting, ahead, w.cfg.Concurrency)
	}
	return ran, held
}

// heldSource holds every Complete call until release, and signals each
// call that starts waiting.
type heldSource struct {
	Source
	entered chan struct{} // buffer 1: a Complete call is waiting
	gate    chan struct{}
	once    sync.Once
}

func newHeldSource(src Source) *heldSource {
	return &heldSource{Source: src, entered: make(chan struct{}, 1), gate: make(chan struct{})}
}

func (s *heldSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Source.Complete(ctx, outcomes)
}

// release lets every Complete call through from now on.
func (s *heldSource) release() { s.once.Do(func() { close(s.gate) }) }

// countRunning counts the runs RUNNING in the store.
func countRunning(t *testing.T, h *harness) int {
	t.Helper()
	running, _, err := h.st.RunList(context.Background(), storeRunning())
	if err != nil {
		t.Fatal(err)
	}
	return len(running)
}

// TestTwoWorkersExecuteEachRunOnce: two nodes on one database share 500
// runs; every run is executed exactly once.
func TestTwoWorkersExecuteEachRunOnce(t *testing.T) {
	t.Parallel()
	const runs = 500
	h := newHarness(t)
	var (
		mu     sync.Mutex
		seen   = make(map[string]int)
		byNode = make(map[string]int)
	)
	var calls atomic.Int32
	allCalled := make(chan struct{})
	h.handle(t, "count", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		mu.Lock()
		seen[task.RunID]++
		mu.Unlock()
		if calls.Add(1) == runs {
			close(allCalled)
		}
		return &handler.Result{Message: "counted"}, nil
	})
	j := h.job(t, "job", "count", nil)
	for _, node := range []string{"node-a", "node-b"} {
		src := &nodeSource{Source: h.source(t, node), node: node, byNode: byNode, mu: &mu}
		h.start(t, node, src, func(c *Config) { c.Concurrency = 8 })
	}
	ids := h.enqueue(t, j, runs)
	recv(t, allCalled, "every run to be executed")
	waitFor(t, "all runs to succeed", func() bool {
		st, err := h.st.Stats(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return st.Runs[connecthub.StatusSuccess] == runs
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("run %s executed %d times", id, seen[id])
		}
	}
	if len(seen) != runs {
		t.Errorf("%d distinct runs executed, want %d", len(seen), runs)
	}
	t.Logf("claimed per node: %v", byNode)
}

// nodeSource counts claims per node.
type nodeSource struct {
	Source
	node   string
	mu     *sync.Mutex
	byNode map[string]int
}

func (s *nodeSource) Claim(ctx context.Context, max int) ([]*Claimed, error) {
	c, err := s.Source.Claim(ctx, max)
	s.mu.Lock()
	s.byNode[s.node] += len(c)
	s.mu.Unlock()
	return c, err
}

// TestCompletionSurvivesDatabaseHiccup: failed Complete calls are retried,
// so the outcome is recorded in the end.
func TestCompletionSurvivesDatabaseHiccup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "done"}, nil
	})
	j := h.job(t, "job", "h", nil)
	src := &recordingSource{Source: h.source(t, "node-a"), failFirst: 3}
	h.start(t, "node-a", src, nil)
	id := h.enqueue(t, j, 1)[0]
	if run := h.waitStatus(t, id, connecthub.StatusSuccess); run.Message != "done" {
		t.Errorf("message = %q", run.Message)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != 4 {
		t.Errorf("Complete called %d times, want 3 failures and 1 success", src.calls)
	}
}

func TestLifecycleEdges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w, err := New(Config{Source: h.source(t, "n"), Registry: h.reg, Node: "n", Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Errorf("second Stop before Start: %v", err)
	}
	if err := w.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}

	w2 := h.start(t, "n2", nil, nil)
	if err := w2.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	// Concurrent Stops both return once the worker is stopped.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := w2.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestMetricsShareRegistry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := prometheus.NewRegistry()
	for _, node := range []string{"a", "b"} {
		if _, err := New(Config{Source: h.source(t, node), Registry: h.reg, Node: node, Metrics: reg}); err != nil {
			t.Fatalf("worker %s: %v", node, err)
		}
	}
}

func storeRunning() store.RunListParams {
	return store.RunListParams{Status: []connecthub.RunStatus{connecthub.StatusRunning}, Limit: 500}
}

// metricValue finds the sample of family name with exactly labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := metricValue(t, reg, name, labels)
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	m := metricValue(t, reg, name, labels)
	if m == nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// gatedSource holds Claim calls at a gate once armed.
type gatedSource struct {
	Source
	armed    atomic.Bool
	claiming chan struct{} // receives when a held Claim starts waiting
	gate     chan struct{} // closed to let held Claims go on
}

func (s *gatedSource) Claim(ctx context.Context, max int) ([]*Claimed, error) {
	if s.armed.Load() {
		s.claiming <- struct{}{}
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Source.Claim(ctx, max)
}

// TestStopDuringClaim: runs claimed while Stop begins are handed back at
// once, not executed; a claim that hangs does not keep Stop from returning.
func TestStopDuringClaim(t *testing.T) {
	t.Parallel()
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var calls atomic.Int32
			h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				calls.Add(1)
				return nil, nil
			})
			j := h.job(t, "job", "h", nil)
			src := &gatedSource{Source: h.source(t, "node-a"), claiming: make(chan struct{}, 1), gate: make(chan struct{})}
			w := h.start(t, "node-a", src, func(c *Config) { c.ShutdownTimeout = 50 * time.Millisecond })
			src.armed.Store(true)
			id := h.enqueue(t, j, 1)[0]
			recv(t, src.claiming, "a claim to be held")

			stopped := make(chan error, 1)
			go func() { stopped <- w.Stop(context.Background()) }()
			waitFor(t, "Stop to stop claiming", func() bool {
				select {
				case <-w.stopClaim:
					return true
				default:
					return false
				}
			})
			if !hang {
				close(src.gate)
			}
			if err := recv(t, stopped, "Stop"); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			run, err := h.st.RunGet(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != connecthub.StatusQueued || run.Attempt != 1 || run.Node != "" {
				t.Errorf("run = %s attempt %d node %q, want QUEUED attempt 1 on no node", run.Status, run.Attempt, run.Node)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("handler called %d times during Stop", n)
			}
		})
	}
}

// TestStartContextCancelDrains checks the lifecycle's one meaning of a
// cancelled Start context: the worker drains as on Stop, and a run in
// flight is handed back rather than abandoned.
func TestStartContextCancelDrains(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	entered := make(chan struct{})
	h.handle(t, "block", func(ctx context.Context, _ *handler.Task) (*handler.Result, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	id := h.enqueue(t, h.job(t, "job", "block", nil), 1)[0]
	w, err := New(Config{Source: h.source(t, "n"), Registry: h.reg, Node: "n", Logger: h.log, ShutdownTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, entered, "the handler to start")
	cancel()
	recv(t, w.Stopped(), "the worker to stop with its context")
	if run, err := h.st.RunGet(context.Background(), id); err != nil || run.Status != connecthub.StatusQueued || run.Attempt != 1 {
		t.Fatalf("run after the drain: %+v, %v; want it handed back QUEUED, attempt 1", run, err)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after the drain: %v", err)
	}
}
