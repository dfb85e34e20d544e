package workerproto_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/worker"
	"github.com/connecthub/connecthub/internal/workerproto"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
	"github.com/connecthub/connecthub/protocol"
)

const (
	leaseTTL  = 30 * time.Second
	logMax    = 400
	theSecret = "s3cr3t-value"
	// serverToken stands for the server's own secrets (its admin token),
	// which every test's service masks.
	serverToken = "server-admin-token-0123456789"
)

// env is one test's database, registry, keyring, fake clock and service.
type env struct {
	st    *sqlitestore.Store
	keys  *secret.Keyring
	clk   *clock.Fake
	svc   *workerproto.Service
	nodes *node.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	keys, _, err := secret.LoadOrCreate(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	reg, err := node.New(node.Config{Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := workerproto.New(workerproto.Config{
		Store: st, Nodes: reg, Keys: keys, LeaseTTL: leaseTTL, RunLogMaxBytes: logMax,
		Clock: clk, Rand: func() float64 { return 0.5 }, ServerSecrets: []string{serverToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, keys: keys, clk: clk, svc: svc, nodes: reg}
}

// register registers a worker node serving handler h on queue q.
func (e *env) register(t *testing.T, name, h, q string) {
	t.Helper()
	_, err := e.svc.Register(t.Context(), protocol.RegisterRequest{
		Name: name, Queues: []string{q}, Handlers: []connecthub.NodeHandler{{Name: h}}, MaxConcurrency: 4,
	})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// job creates a job of handler h on queue q whose secret_cfg holds
// theSecret, and enqueues one run of it.
func (e *env) run(t *testing.T, id, h, q string, mod func(*connecthub.Job)) string {
	t.Helper()
	token, err := e.keys.EncryptJSON(map[string]any{"api_key": theSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	j := &connecthub.Job{
		ID: id, Enabled: true, Timezone: "UTC", Handler: h, PublicCfg: []byte(`{"x":1}`),
		SecretCfg: token, HasSecret: true, SecretKeys: []string{"api_key"},
		MaxAttempts: 3, RetryBackoff: connecthub.Duration(10 * time.Second),
		Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow, Queue: q, CreatedAt: now, UpdatedAt: now,
	}
	if mod != nil {
		mod(j)
	}
	if err := e.st.JobCreate(t.Context(), j); err != nil {
		t.Fatalf("create job %s: %v", id, err)
	}
	r := connecthub.NewRun(j, connecthub.TriggerManual, now, now, "test")
	if err := e.st.RunInsert(t.Context(), []*connecthub.Run{r}); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// newHeld returns an env in which node w1 (handler h, default queue) holds
// attempt 1 of run id of job j.
func newHeld(t *testing.T) (e *env, id string, claimed []protocol.ClaimedRun) {
	t.Helper()
	e = newEnv(t)
	e.register(t, "w1", "h", connecthub.DefaultQueue)
	id = e.run(t, "j", "h", connecthub.DefaultQueue, nil)
	claimed = e.claim(t, "w1")
	if len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claimed %+v, want %s", claimed, id)
	}
	return e, id, claimed
}

// claim claims without waiting and fails the test on error.
func (e *env) claim(t *testing.T, name string) []protocol.ClaimedRun {
	t.Helper()
	resp, err := e.svc.Claim(t.Context(), protocol.ClaimRequest{Name: name, Max: 10})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return resp.Runs
}

func (e *env) get(t *testing.T, id string) *connecthub.Run {
	t.Helper()
	r, err := e.st.RunGet(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantErr checks err's kind and code, or its field for KindInvalid.
func wantErr(t *testing.T, what string, err error, kind connecthub.Kind, codeOrField string) {
	t.Helper()
	e, ok := err.(*connecthub.Error)
	if !ok || e.Kind != kind || (e.Code != codeOrField && e.Field != codeOrField) {
		t.Errorf("%s: err = %#v, want %s %q", what, err, kind, codeOrField)
	}
}

// TestClaimServesOnlyTheNodesQueuesAndHandlers: a node gets the runs of
// the queues and handlers it registered, with their secrets decrypted and
// a lease from the injected clock; it turns active once it claims.
func TestClaimServesOnlyTheNodesQueuesAndHandlers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "w1", "h", connecthub.DefaultQueue)
	mine := e.run(t, "mine", "h", connecthub.DefaultQueue, nil)
	otherHandler := e.run(t, "other-handler", "other", connecthub.DefaultQueue, nil)
	otherQueue := e.run(t, "other-queue", "h", "elsewhere", nil)

	runs := e.claim(t, "w1")
	if len(runs) != 1 || runs[0].ID != mine {
		t.Fatalf("claimed %+v, want only %s", runs, mine)
	}
	cr := runs[0]
	if cr.Secrets["api_key"] != theSecret || string(cr.PublicCfg) != `{"x":1}` || cr.Attempt != 1 || cr.Handler != "h" {
		t.Errorf("claimed run = %+v", cr)
	}
	if want := e.clk.Now().Add(leaseTTL); !cr.LeaseExpiresAt.Equal(want) {
		t.Errorf("lease expires at %s, want %s (the fake clock + TTL)", cr.LeaseExpiresAt, want)
	}
	for _, id := range []string{otherHandler, otherQueue} {
		if r := e.get(t, id); r.Status != connecthub.StatusQueued {
			t.Errorf("run %s of another handler or queue is %s", id, r.Status)
		}
	}
	n, err := e.nodes.Get(t.Context(), "w1")
	if err != nil || n.PresentState != connecthub.NodeActive {
		t.Errorf("node after its first claim: %+v, %v; want active", n, err)
	}
}

// TestClaimWildcardHandler: a node that advertises "py:*" claims every
// run of a "py:" handler, and nothing else.
func TestClaimWildcardHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "py-1", "py:*", connecthub.DefaultQueue)
	colon := e.run(t, "colon", "py:extensions.x.job:MyJob", connecthub.DefaultQueue, nil)
	dotted := e.run(t, "dotted", "py:extensions.x.job.MyJob", connecthub.DefaultQueue, nil)
	other := e.run(t, "other", "pyx", connecthub.DefaultQueue, nil)

	var got []string
	for _, r := range e.claim(t, "py-1") {
		got = append(got, r.ID)
	}
	slices.Sort(got)
	want := []string{colon, dotted}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want %v", got, want)
	}
	if r := e.get(t, other); r.Status != connecthub.StatusQueued {
		t.Errorf("the run of another handler is %s", r.Status)
	}
}

func TestClaimValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		req  protocol.ClaimRequest
		kind connecthub.Kind
		want string
	}{
		{"bad name", protocol.ClaimRequest{Name: "bad name", Max: 1}, connecthub.KindInvalid, "name"},
		{"max 0", protocol.ClaimRequest{Name: "w", Max: 0}, connecthub.KindInvalid, "max"},
		{"max too big", protocol.ClaimRequest{Name: "w", Max: protocol.MaxClaimRuns + 1}, connecthub.KindInvalid, "max"},
		{"wait too long", protocol.ClaimRequest{Name: "w", Max: 1, Wait: connecthub.Duration(protocol.MaxClaimWait + time.Second)}, connecthub.KindInvalid, "wait"},
		{"negative wait", protocol.ClaimRequest{Name: "w", Max: 1, Wait: -1}, connecthub.KindInvalid, "wait"},
		{"unknown node", protocol.ClaimRequest{Name: "ghost", Max: 1}, connecthub.KindNotFound, "not_registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.Claim(t.Context(), tt.req)
			wantErr(t, "claim", err, tt.kind, tt.want)
		})
	}
}

// TestClaimEndsRunsWhoseSecretsCannotBeDecrypted: such a run is not sent
// to the worker; it ends FAILURE with the reason.
func TestClaimEndsRunsWhoseSecretsCannotBeDecrypted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "w1", "h", connecthub.DefaultQueue)
	id := e.run(t, "bad-secret", "h", connecthub.DefaultQueue, func(j *connecthub.Job) { j.SecretCfg = "not-a-token" })
	if runs := e.claim(t, "w1"); len(runs) != 0 {
		t.Fatalf("claimed %+v, want nothing", runs)
	}
	if r := e.get(t, id); r.Status != connecthub.StatusFailure || r.Error == "" {
		t.Errorf("run = %s %q, want FAILURE with the reason", r.Status, r.Error)
	}
}

// TestClaimWaitsOnTheInjectedClock: a waiting claim answers when a run
// arrives, and with nothing when its wait passes on the clock.
func TestClaimWaitsOnTheInjectedClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "w1", "h", connecthub.DefaultQueue)
	req := protocol.ClaimRequest{Name: "w1", Max: 1, Wait: connecthub.Duration(10 * time.Second)}
	type answer struct {
		resp *protocol.ClaimResponse
		err  error
	}
	wait := func() chan answer {
		ch := make(chan answer, 1)
		go func() {
			resp, err := e.svc.Claim(t.Context(), req)
			ch <- answer{resp, err}
		}()
		return ch
	}

	ch := wait()
	e.clk.BlockUntilTimers(2) // the wait's deadline and its poll
	id := e.run(t, "late", "h", connecthub.DefaultQueue, nil)
	if a := <-ch; a.err != nil || len(a.resp.Runs) != 1 || a.resp.Runs[0].ID != id {
		t.Fatalf("claim after a run arrived = %+v, %v", a.resp, a.err)
	}

	ch = wait()
	e.clk.BlockUntilTimers(2)
	e.clk.Advance(10 * time.Second)
	if a := <-ch; a.err != nil || len(a.resp.Runs) != 0 {
		t.Fatalf("claim after its wait = %+v, %v; want no runs", a.resp, a.err)
	}
}

// TestHandBack: runs handed back are queued again in the same attempt.
func TestHandBack(t *testing.T) {
	t.Parallel()
	e, id, runs := newHeld(t)
	e.svc.HandBack(t.Context(), "w1", runs)
	if r := e.get(t, id); r.Status != connecthub.StatusQueued || r.Attempt != 1 {
		t.Errorf("handed-back run = %s attempt %d, want QUEUED attempt 1", r.Status, r.Attempt)
	}
}

// TestCompleteChecksTheAttempt: only the holder of the attempt records an
// outcome (409 lease_lost for anyone else, nothing written); repeating an
// applied completion answers the run again.
func TestCompleteChecksTheAttempt(t *testing.T) {
	t.Parallel()
	e, id, _ := newHeld(t)
	ok := protocol.CompleteRequest{Name: "w1", Attempt: 1, Status: "success", Message: "done with " + theSecret, Result: []byte(`{"n":1}`)}

	tests := []struct {
		name string
		req  protocol.CompleteRequest
		kind connecthub.Kind
		want string
	}{
		{"older attempt", protocol.CompleteRequest{Name: "w1", Attempt: 2, Status: "SUCCESS"}, connecthub.KindConflict, "lease_lost"},
		{"other node", protocol.CompleteRequest{Name: "w2", Attempt: 1, Status: "SUCCESS"}, connecthub.KindConflict, "lease_lost"},
		{"bad status", protocol.CompleteRequest{Name: "w1", Attempt: 1, Status: "DONE"}, connecthub.KindInvalid, "status"},
		{"no attempt", protocol.CompleteRequest{Name: "w1", Status: "SUCCESS"}, connecthub.KindInvalid, "attempt"},
	}
	for _, tt := range tests {
		_, err := e.svc.Complete(t.Context(), id, tt.req)
		wantErr(t, tt.name, err, tt.kind, tt.want)
	}
	if r := e.get(t, id); r.Status != connecthub.StatusRunning {
		t.Fatalf("refused completions changed the run: %s", r.Status)
	}
	if _, err := e.svc.Complete(t.Context(), "no-such-run", ok); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("complete of a missing run: %v", err)
	}

	first, err := e.svc.Complete(t.Context(), id, ok)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != connecthub.StatusSuccess || string(first.Result) != `{"n":1}` || strings.Contains(first.Message, theSecret) {
		t.Errorf("completed run = %s %s %q (secret must be masked)", first.Status, first.Result, first.Message)
	}
	again, err := e.svc.Complete(t.Context(), id, ok)
	if err != nil || again.Status != connecthub.StatusSuccess || !again.FinishedAt.Equal(*first.FinishedAt) {
		t.Errorf("repeated completion = %+v, %v; want the same run", again, err)
	}
	_, err = e.svc.Complete(t.Context(), id, protocol.CompleteRequest{Name: "w1", Attempt: 1, Status: "FAILURE", Error: "late"})
	wantErr(t, "a different outcome after the run ended", err, connecthub.KindConflict, "lease_lost")
}

// TestCompleteRetry: a RETRY re-queues the run with attempt+1 after the
// job's back-off from the injected clock, and a repeated RETRY is
// answered without a second attempt being consumed.
func TestCompleteRetry(t *testing.T) {
	t.Parallel()
	e, id, _ := newHeld(t)
	req := protocol.CompleteRequest{Name: "w1", Attempt: 1, Status: protocol.CompleteRetry, Error: "upstream said no"}
	r, err := e.svc.Complete(t.Context(), id, req)
	if err != nil {
		t.Fatal(err)
	}
	wantAt := e.clk.Now().Add(worker.Backoff(10*time.Second, 0, 1, 0.5))
	if r.Status != connecthub.StatusQueued || r.Attempt != 2 || !r.AvailableAt.Equal(wantAt) {
		t.Errorf("retried run = %s attempt %d available %s, want QUEUED attempt 2 at %s", r.Status, r.Attempt, r.AvailableAt, wantAt)
	}
	again, err := e.svc.Complete(t.Context(), id, req)
	if err != nil || again.Attempt != 2 {
		t.Errorf("repeated RETRY = %+v, %v; want the run in attempt 2", again, err)
	}
}

// TestAppendLog: what a worker sends is masked and capped, and only the
// holder of the attempt may append.
func TestAppendLog(t *testing.T) {
	t.Parallel()
	e, id, _ := newHeld(t)
	ctx := t.Context()

	if err := e.svc.AppendLog(ctx, id, protocol.LogRequest{Name: "w1", Attempt: 1, Lines: []string{"token " + theSecret + "\r\n", "two"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AppendLog(ctx, id, protocol.LogRequest{Name: "w1", Attempt: 1}, true); err != nil {
		t.Errorf("an empty chunk: %v", err)
	}
	refused := []struct {
		name    string
		req     protocol.LogRequest
		chunk   bool
		kind    connecthub.Kind
		want    string
		wantErr bool
	}{
		{"lines and chunk", protocol.LogRequest{Name: "w1", Attempt: 1, Lines: []string{"a"}, Chunk: "b"}, true, connecthub.KindInvalid, "lines", true},
		{"neither", protocol.LogRequest{Name: "w1", Attempt: 1}, false, connecthub.KindInvalid, "lines", true},
		{"older attempt", protocol.LogRequest{Name: "w1", Attempt: 2, Chunk: "x"}, true, connecthub.KindConflict, "lease_lost", true},
		{"other node", protocol.LogRequest{Name: "w2", Attempt: 1, Chunk: "x"}, true, connecthub.KindConflict, "lease_lost", true},
	}
	for _, tt := range refused {
		wantErr(t, tt.name, e.svc.AppendLog(ctx, id, tt.req, tt.chunk), tt.kind, tt.want)
	}
	if err := e.svc.AppendLog(ctx, id, protocol.LogRequest{Name: "w1", Attempt: 1, Chunk: strings.Repeat("z", 2*logMax)}, true); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.RunLogRead(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Data, "token ") || strings.Contains(got.Data, theSecret) || !strings.Contains(got.Data, "\ntwo\n") {
		t.Errorf("log = %q: want the lines, the secret masked", got.Data)
	}
	if len(got.Data) > logMax || !strings.HasSuffix(got.Data, runrules.TruncationSuffix) {
		t.Errorf("log of %d bytes (cap %d) ends %q, want the truncation marker", len(got.Data), logMax, got.Data[max(0, len(got.Data)-40):])
	}
}

// TestHeartbeat: a heartbeat extends the leases of the attempts the node
// holds, from the injected clock, and says which it lost.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	e, id, _ := newHeld(t)
	e.clk.Advance(5 * time.Second)
	resp, err := e.svc.Heartbeat(t.Context(), protocol.HeartbeatRequest{Name: "w1", Runs: []protocol.RunRef{{ID: id, Attempt: 1}, {ID: "gone", Attempt: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	want := e.clk.Now().Add(leaseTTL)
	if len(resp.Runs) != 2 || resp.Runs[0].Lost || resp.Runs[0].LeaseExpiresAt == nil || !resp.Runs[0].LeaseExpiresAt.Equal(want) || !resp.Runs[1].Lost {
		t.Errorf("heartbeat = %+v; want run 1 held until %s, run 2 lost", resp.Runs, want)
	}
	_, err = e.svc.HeartbeatRun(t.Context(), id, protocol.RunHeartbeatRequest{Name: "w1", Attempt: 2})
	wantErr(t, "older attempt", err, connecthub.KindConflict, "lease_lost")
	if hb, err := e.svc.HeartbeatRun(t.Context(), id, protocol.RunHeartbeatRequest{Name: "w1", Attempt: 1}); err != nil || hb.Lost {
		t.Errorf("holder's heartbeat = %+v, %v", hb, err)
	}
	_, err = e.svc.Heartbeat(t.Context(), protocol.HeartbeatRequest{Name: "w1", Runs: []protocol.RunRef{{ID: id, Attempt: 1}, {ID: id, Attempt: 1}}})
	wantErr(t, "a run listed twice", err, connecthub.KindInvalid, "runs")
}

// TestWorkerTokenBinding: with a worker token in the context, every call
// is held to the token's node-name prefix and queues, the server's own
// node is out of reach, and a live node of another token cannot be taken
// over; a dead one can. Without a token (the admin) nothing is bound.
func TestWorkerTokenBinding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tokenCtx := func(id, name, prefix string, queues ...string) context.Context {
		return workerproto.WithWorkerToken(ctx, &connecthub.Token{ID: id, Name: name, Scope: connecthub.ScopeWorker,
			NodePrefix: prefix, Queues: queues})
	}
	edge := tokenCtx("tok_edge", "edge", "")          // defaults: prefix "edge", queue "default"
	rival := tokenCtx("tok_rival", "rival", "edge-a") // a prefix that also covers edge-a1
	if _, err := e.nodes.Register(ctx, &connecthub.Node{Name: "edge-server", Kind: connecthub.NodeKindServer,
		Queues: []string{"default"}, Handlers: []connecthub.NodeHandler{{Name: "noop"}}}); err != nil {
		t.Fatal(err)
	}
	reg := func(ctx context.Context, name string, queues ...string) error {
		_, err := e.svc.Register(ctx, protocol.RegisterRequest{Name: name, Queues: queues,
			Handlers: []connecthub.NodeHandler{{Name: "noop"}}, MaxConcurrency: 1})
		return err
	}
	if err := reg(edge, "edge-a1", "default"); err != nil {
		t.Fatalf("register within the binding: %v", err)
	}
	if n, _ := e.nodes.Get(ctx, "edge-a1"); n.OwnerToken != "tok_edge" {
		t.Errorf("owner of edge-a1 = %q, want tok_edge", n.OwnerToken)
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"register outside the prefix", func() error { return reg(edge, "other-1", "default") }, "node_not_allowed"},
		{"register a foreign queue", func() error { return reg(edge, "edge-a2", "default", "payroll") }, "queue_not_allowed"},
		{"register over the server's node", func() error { return reg(edge, "edge-server", "default") }, "node_owned"},
		{"register over another token's live node", func() error { return reg(rival, "edge-a1", "default") }, "node_owned"},
		{"keepalive another token's node", func() error {
			_, err := e.svc.Keepalive(rival, protocol.KeepaliveRequest{Name: "edge-a1"})
			return err
		}, "node_not_allowed"},
		{"prestop outside the prefix", func() error {
			return e.svc.Prestop(edge, protocol.PrestopRequest{Name: "other-1"})
		}, "node_not_allowed"},
		{"claim as the server's node", func() error {
			_, err := e.svc.Claim(edge, protocol.ClaimRequest{Name: "edge-server", Max: 1})
			return err
		}, "node_not_allowed"},
		{"heartbeat as the server's node", func() error {
			_, err := e.svc.Heartbeat(edge, protocol.HeartbeatRequest{Name: "edge-server"})
			return err
		}, "node_not_allowed"},
	}
	for _, tt := range tests {
		var ce *connecthub.Error
		if err := tt.call(); !errors.As(err, &ce) || ce.Code != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if err := reg(ctx, "edge-server", "default", "payroll"); err != nil {
		t.Errorf("the admin (no token) is not bound: %v", err)
	}
	// Once edge-a1 is declared dead, a token whose prefix covers it may
	// take it over.
	now := e.clk.Now().Add(time.Hour)
	if _, _, err := e.st.NodeMarkDead(ctx, now, now); err != nil {
		t.Fatal(err)
	}
	if err := reg(rival, "edge-a1", "default"); err != nil {
		t.Errorf("taking over a dead node: %v", err)
	}
}
