package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// nopSource is a Source that never has work.
type nopSource struct{}

func (nopSource) Claim(context.Context, int) ([]*Claimed, error) { return nil, nil }
func (nopSource) Heartbeat(context.Context, []string) (store.RunHeartbeatResult, error) {
	return store.RunHeartbeatResult{}, nil
}
func (nopSource) AppendLog(context.Context, string, string) error       { return nil }
func (nopSource) Complete(context.Context, []store.RunOutcome) error    { return nil }
func (nopSource) Wake() (runs <-chan struct{}, cancels <-chan struct{}) { return nil, nil }

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if c.Concurrency != 20 || c.Heartbeat != 5*time.Second || c.PollInterval != time.Second ||
		c.ShutdownTimeout != 25*time.Second || c.RunLogMaxBytes != 204800 || c.ClaimBatch != 40 ||
		c.HandlerGrace != DefaultHandlerGrace || c.Logger == nil || c.Clock == nil || c.Rand == nil {
		t.Errorf("defaults = %+v", c)
	}
	if got := (Config{Concurrency: 2000}).WithDefaults().ClaimBatch; got != MaxBatch {
		t.Errorf("ClaimBatch for Concurrency 2000 = %d, want %d", got, MaxBatch)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	valid := func() Config {
		return Config{Source: nopSource{}, Registry: handler.NewRegistry(), Node: "n"}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no source", func(c *Config) { c.Source = nil }, "Source is required"},
		{"no registry", func(c *Config) { c.Registry = nil }, "Registry is required"},
		{"no node", func(c *Config) { c.Node = "" }, "Node is required"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "Concurrency must be at least 1, got -1"},
		{"negative heartbeat", func(c *Config) { c.Heartbeat = -time.Second }, "Heartbeat must be positive"},
		{"negative poll", func(c *Config) { c.PollInterval = -time.Second }, "PollInterval must be positive"},
		{"negative shutdown", func(c *Config) { c.ShutdownTimeout = -time.Second }, "ShutdownTimeout must be positive"},
		{"negative grace", func(c *Config) { c.HandlerGrace = -time.Second }, "HandlerGrace must be positive"},
		{"negative log cap", func(c *Config) { c.RunLogMaxBytes = -1 }, "RunLogMaxBytes must be positive"},
		{"huge claim batch", func(c *Config) { c.ClaimBatch = MaxBatch + 1 }, "ClaimBatch must be between 1 and 1000"},
		{"several at once", func(c *Config) { c.Source, c.Node = nil, "" }, "Source is required; Node is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.mod(&c)
			w, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) || w != nil {
				t.Errorf("New = %v, %v; want an error containing %q", w, err, tt.want)
			}
		})
	}
	if _, err := New(valid()); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base    time.Duration
		attempt int
		r       float64
		want    time.Duration
	}{
		{10 * time.Second, 1, 0, 5 * time.Second},           // half is kept
		{10 * time.Second, 1, 0.5, 7500 * time.Millisecond}, // the other half scaled
		{10 * time.Second, 1, 0.999999999, 10*time.Second - 5*time.Nanosecond},
		{10 * time.Second, 2, 0, 10 * time.Second},         // doubles
		{10 * time.Second, 3, 0, 20 * time.Second},         // and again
		{0, 1, 0, 5 * time.Second},                         // 0 = default 10s base
		{-time.Second, 1, 0, 5 * time.Second},              // nonsense = default
		{10 * time.Second, 20, 0, 30 * time.Minute},        // capped at 1h before jitter
		{10 * time.Second, 20, 1, time.Hour},               // never above the cap
		{10 * time.Second, 1 << 30, 0.5, 45 * time.Minute}, // huge attempts do not overflow
		{2 * time.Hour, 1, 0, 30 * time.Minute},            // a base above the cap is capped
		{10 * time.Millisecond, 2, 0, 10 * time.Millisecond},
		{10 * time.Second, 1, -3, 5 * time.Second}, // r clamped to [0, 1]
		{10 * time.Second, 1, 7, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := Backoff(tt.base, 0, tt.attempt, tt.r); got != tt.want {
			t.Errorf("Backoff(%s, %d, %v) = %s, want %s", tt.base, tt.attempt, tt.r, got, tt.want)
		}
	}
}

// TestBackoffLimit checks CONNECTHUB_RETRY_BACKOFF_MAX: the nominal wait
// stops growing at the limit, and jitter keeps at least half of it.
func TestBackoffLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		base, limit time.Duration
		attempt     int
		r           float64
		want        time.Duration
	}{
		{10 * time.Second, 30 * time.Second, 1, 0, 5 * time.Second},
		{10 * time.Second, 30 * time.Second, 2, 0, 10 * time.Second},
		{10 * time.Second, 30 * time.Second, 3, 0, 15 * time.Second},
		{10 * time.Second, 30 * time.Second, 9, 1, 30 * time.Second},
		{time.Minute, 30 * time.Second, 1, 0, 15 * time.Second},
	} {
		if got := Backoff(tt.base, tt.limit, tt.attempt, tt.r); got != tt.want {
			t.Errorf("Backoff(%s, %s, %d, %v) = %s, want %s", tt.base, tt.limit, tt.attempt, tt.r, got, tt.want)
		}
	}
}
