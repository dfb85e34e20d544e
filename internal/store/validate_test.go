package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

var now = time.Date(2031, 3, 14, 9, 26, 53, 589793238, time.UTC)

// field returns the field of an invalid-input error, or fails the test.
func field(t *testing.T, err error) string {
	t.Helper()
	var e *connecthub.Error
	if !errors.As(err, &e) || e.Kind != connecthub.KindInvalid {
		t.Fatalf("error = %v, want KindInvalid", err)
	}
	return e.Field
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestRunClaimParamsValidate(t *testing.T) {
	t.Parallel()
	ok := RunClaimParams{Node: "n", Queues: []string{"a"}, Max: 1, LeaseTTL: time.Second, Now: now}
	tests := []struct {
		name     string
		edit     func(p *RunClaimParams)
		field    string // "" = valid
		queues   []string
		handlers []string
	}{
		{"valid", func(*RunClaimParams) {}, "", []string{"a"}, []string{}},
		{"duplicates removed in order", func(p *RunClaimParams) {
			p.Queues = []string{"b", "a", "b"}
			p.Handlers = []string{"h", "h"}
		}, "", []string{"b", "a"}, []string{"h"}},
		{"no node", func(p *RunClaimParams) { p.Node = "" }, "node", nil, nil},
		{"max 0", func(p *RunClaimParams) { p.Max = 0 }, "max", nil, nil},
		{"no ttl", func(p *RunClaimParams) { p.LeaseTTL = 0 }, "lease_ttl", nil, nil},
		{"no now", func(p *RunClaimParams) { p.Now = time.Time{} }, "now", nil, nil},
		{"no queue", func(p *RunClaimParams) { p.Queues = nil }, "queues", nil, nil},
		{"empty queue", func(p *RunClaimParams) { p.Queues = []string{"a", ""} }, "queues", nil, nil},
		{"empty handler", func(p *RunClaimParams) { p.Handlers = []string{""} }, "handlers", nil, nil},
		{"queues at the bound", func(p *RunClaimParams) { p.Queues = names("q", MaxClaimQueues) }, "", names("q", MaxClaimQueues), []string{}},
		{"too many queues", func(p *RunClaimParams) { p.Queues = names("q", MaxClaimQueues+1) }, "queues", nil, nil},
		{"too many handlers", func(p *RunClaimParams) { p.Handlers = names("h", MaxClaimHandlers+1) }, "handlers", nil, nil},
		{"empty handler prefix", func(p *RunClaimParams) { p.HandlerPrefixes = []string{"py:", ""} }, "handler_prefixes", nil, nil},
		{"handlers and prefixes over the bound", func(p *RunClaimParams) {
			p.Handlers = names("h", MaxClaimHandlers)
			p.HandlerPrefixes = []string{"py:"}
		}, "handler_prefixes", nil, nil},
		{"duplicates do not count", func(p *RunClaimParams) {
			p.Handlers = append(names("h", MaxClaimHandlers), names("h", MaxClaimHandlers)...)
		}, "", []string{"a"}, names("h", MaxClaimHandlers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := ok
			tt.edit(&p)
			queues, handlers, err := p.Validate()
			if tt.field != "" {
				if got := field(t, err); got != tt.field {
					t.Fatalf("field = %q, want %q (%v)", got, tt.field, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(queues, tt.queues) || !slices.Equal(handlers, tt.handlers) || handlers == nil {
				t.Fatalf("lists = %v, %v; want %v, %v (never nil)", queues, handlers, tt.queues, tt.handlers)
			}
		})
	}
}

func TestRunHeartbeatParamsValidate(t *testing.T) {
	t.Parallel()
	ok := RunHeartbeatParams{Node: "n", LeaseTTL: time.Second, Now: now}
	tests := []struct {
		name  string
		edit  func(p *RunHeartbeatParams)
		field string
		ids   []string
	}{
		{"no ids", func(*RunHeartbeatParams) {}, "", nil},
		{"only empty", func(p *RunHeartbeatParams) { p.IDs = []string{"", ""} }, "", nil},
		{"sorted distinct", func(p *RunHeartbeatParams) { p.IDs = []string{"c", "", "a", "c", "b"} }, "", []string{"a", "b", "c"}},
		{"no node", func(p *RunHeartbeatParams) { p.Node = "" }, "node", nil},
		{"no ttl", func(p *RunHeartbeatParams) { p.LeaseTTL = -1 }, "lease_ttl", nil},
		{"no now", func(p *RunHeartbeatParams) { p.Now = time.Time{} }, "now", nil},
		{"negative attempt", func(p *RunHeartbeatParams) { p.Attempts = map[string]int{"a": -1} }, "attempts", nil},
		{"huge attempt", func(p *RunHeartbeatParams) { p.Attempts = map[string]int{"a": 1 << 31} }, "attempts", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := ok
			tt.edit(&p)
			ids, err := p.Validate()
			if tt.field != "" {
				if got := field(t, err); got != tt.field {
					t.Fatalf("field = %q, want %q", got, tt.field)
				}
				return
			}
			if err != nil || !slices.Equal(ids, tt.ids) {
				t.Fatalf("ids = %v, %v; want %v", ids, err, tt.ids)
			}
		})
	}
}

func TestValidateOutcomes(t *testing.T) {
	t.Parallel()
	ok := RunOutcome{ID: "r", Node: "n", Status: connecthub.StatusSuccess, Now: now}
	tests := []struct {
		name     string
		edit     func(o *RunOutcome)
		field    string
		requeues bool
	}{
		{"terminal", func(*RunOutcome) {}, "", false},
		{"requeue", func(o *RunOutcome) { o.Status = connecthub.StatusQueued }, "", true},
		{"no id", func(o *RunOutcome) { o.ID = "" }, "id", false},
		{"no node", func(o *RunOutcome) { o.Node = "" }, "node", false},
		{"no now", func(o *RunOutcome) { o.Now = time.Time{} }, "now", false},
		{"bad result", func(o *RunOutcome) { o.Result = []byte("{") }, "result", false},
		{"negative attempt", func(o *RunOutcome) { o.Attempt = -1 }, "attempt", false},
		{"running", func(o *RunOutcome) { o.Status = connecthub.StatusRunning }, "status", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tt.edit(&o)
			requeues, err := ValidateOutcomes([]RunOutcome{ok, o})
			if tt.field != "" {
				if got := field(t, err); got != tt.field {
					t.Fatalf("field = %q, want %q", got, tt.field)
				}
				if !strings.Contains(err.Error(), "outcome 1") {
					t.Errorf("error %q does not name the outcome", err)
				}
				return
			}
			if err != nil || requeues != tt.requeues {
				t.Fatalf("requeues = %v, %v; want %v", requeues, err, tt.requeues)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want int }{{0, DefaultPageLimit}, {1, 1}, {MaxPageLimit, MaxPageLimit}, {-1, 0}, {MaxPageLimit + 1, 0}} {
		got, err := PageLimit(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("PageLimit(%d) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	key := func(s string) string { return s }
	for _, tt := range []struct {
		items      []string
		limit      int
		want       []string
		wantCursor string
	}{
		{[]string{"a", "b", "c"}, 2, []string{"a", "b"}, "b"},
		{[]string{"a", "b"}, 2, []string{"a", "b"}, ""},
		{nil, 2, nil, ""},
	} {
		got, cursor := Page(tt.items, tt.limit, key)
		if !slices.Equal(got, tt.want) || cursor != tt.wantCursor {
			t.Errorf("Page(%v, %d) = %v, %q; want %v, %q", tt.items, tt.limit, got, cursor, tt.want, tt.wantCursor)
		}
	}
	if _, err := CheckRunList(RunListParams{Status: []connecthub.RunStatus{"NOPE"}}); field(t, err) != "status" {
		t.Errorf("bad status: %v", err)
	}
	if _, err := CheckRunList(RunListParams{Trigger: "nope"}); field(t, err) != "trigger" {
		t.Errorf("bad trigger: %v", err)
	}
}

func TestPrepareNode(t *testing.T) {
	t.Parallel()
	ok := connecthub.Node{Name: "n", RegisteredAt: now, LastHeartbeat: now}
	row, err := PrepareNode(&ok)
	if err != nil {
		t.Fatal(err)
	}
	want := NodeRow{Setting: connecthub.NodeActive, Present: connecthub.NodeActivating, Queues: "[]", Handlers: "[]", Labels: "{}"}
	if row != want {
		t.Errorf("row = %+v, want %+v", row, want)
	}
	for _, tt := range []struct {
		name, field string
		edit        func(n *connecthub.Node)
	}{
		{"no name", "name", func(n *connecthub.Node) { n.Name = "" }},
		{"bad setting", "setting_state", func(n *connecthub.Node) { n.SettingState = connecthub.NodeActivating }},
		{"bad present", "present_state", func(n *connecthub.Node) { n.PresentState = "asleep" }},
		{"no registered_at", "registered_at", func(n *connecthub.Node) { n.RegisteredAt = time.Time{} }},
		{"no last_heartbeat", "last_heartbeat", func(n *connecthub.Node) { n.LastHeartbeat = time.Time{} }},
		{"negative running", "running", func(n *connecthub.Node) { n.Running = -1 }},
		{"huge port", "metrics_port", func(n *connecthub.Node) { n.MetricsPort = 1 << 31 }},
	} {
		n := ok
		tt.edit(&n)
		if _, err := PrepareNode(&n); field(t, err) != tt.field {
			t.Errorf("%s: %v, want field %s", tt.name, err, tt.field)
		}
	}
	if err := (&NodeKeepaliveParams{Name: "n", Now: now, Running: -1}).Validate(); field(t, err) != "running" {
		t.Errorf("keepalive with negative running: %v", err)
	}
}

func TestPrepareFires(t *testing.T) {
	t.Parallel()
	run := &connecthub.Run{Status: connecthub.StatusSuccess, Trigger: connecthub.TriggerAPI, Queue: "q", CreatedAt: now, Attempt: 1, MaxAttempts: 1}
	rows, err := PrepareFires([]JobFireParams{{JobID: "j", Now: now, Runs: []*connecthub.Run{run}}})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0][0]
	if r == run || r.JobID != "j" || r.Status != connecthub.StatusQueued || r.Trigger != connecthub.TriggerCron || !r.ScheduledFor.Equal(now) {
		t.Errorf("row = %+v: want a copy, job j, QUEUED, cron, scheduled at creation", r)
	}
	if run.JobID != "" || run.Status != connecthub.StatusSuccess {
		t.Errorf("the caller's run changed: %+v", run)
	}
	for _, tt := range []struct {
		name, field string
		fire        JobFireParams
	}{
		{"no job", "job_id", JobFireParams{Now: now}},
		{"no now", "now", JobFireParams{JobID: "j"}},
		{"bad concurrency", "concurrency", JobFireParams{JobID: "j", Now: now, Concurrency: "sometimes"}},
		{"nil run", "runs", JobFireParams{JobID: "j", Now: now, Runs: []*connecthub.Run{nil}}},
		{"other job's run", "runs", JobFireParams{JobID: "j", Now: now, Runs: []*connecthub.Run{{JobID: "k"}}}},
	} {
		if _, err := PrepareFires([]JobFireParams{tt.fire}); field(t, err) != tt.field {
			t.Errorf("%s: %v, want field %s", tt.name, err, tt.field)
		}
	}
}

func TestCodecs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "{}", " \n ": "{}", " {\"a\": 1}\n": `{"a": 1}`} {
		got, err := JobPublicCfg(&connecthub.Job{PublicCfg: []byte(in)})
		if err != nil || got != want {
			t.Errorf("JobPublicCfg(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := JobPublicCfg(&connecthub.Job{PublicCfg: []byte("{")}); field(t, err) != "public_cfg" {
		t.Errorf("bad public_cfg: %v", err)
	}
	history, err := AppendAttempt("[]", connecthub.Attempt{Attempt: 1, FinishedAt: now, Status: connecthub.StatusFailure})
	if err != nil {
		t.Fatal(err)
	}
	list, err := DecodeAttempts(history)
	if err != nil || len(list) != 1 || !list[0].FinishedAt.Equal(UTCMicro(now)) {
		t.Fatalf("attempts = %+v, %v", list, err)
	}
	if list, err := DecodeAttempts([]byte("[]")); err != nil || list == nil || len(list) != 0 {
		t.Errorf("empty history = %#v, %v; want empty, not nil", list, err)
	}
	var g IDGen
	prev := ""
	for range 100 {
		id, err := g.Next(now)
		if err != nil || id <= prev {
			t.Fatalf("id %q after %q (%v): ids must increase", id, prev, err)
		}
		prev = id
	}
	if _, err := g.Next(time.Unix(-1, 0)); field(t, err) != "created_at" {
		t.Errorf("id before 1970: %v", err)
	}
}
