package worker

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

var errStoreDown = errors.New("connection refused (test outage)")

// outageSource is a Source whose store is down while down is set: claims
// fail, and so do probes unless pingOK says the store answers pings all
// the same. Each Claim reports its error (nil for a success) on claims.
type outageSource struct {
	nopSource
	down   atomic.Bool
	pingOK bool
	claims chan error
}

func (s *outageSource) Claim(context.Context, int) ([]*Claimed, error) {
	var err error
	if s.down.Load() {
		err = errStoreDown
	}
	s.claims <- err
	return nil, err
}

// probingSource is an outageSource that is also a Prober.
type probingSource struct{ *outageSource }

func (s probingSource) Probe(context.Context) error {
	if s.down.Load() && !s.pingOK {
		return errStoreDown
	}
	return nil
}

// outageRemote is the worker protocol of a server whose store is down
// while its outageSource is: claims fail as they do over HTTP.
type outageRemote struct {
	fakeRemote
	out *outageSource
}

func (r *outageRemote) Claim(ctx context.Context, req client.ClaimRequest) (*client.ClaimResponse, error) {
	if _, err := r.out.Claim(ctx, req.Max); err != nil {
		return nil, err
	}
	return &client.ClaimResponse{}, nil
}

// remoteOver returns a RemoteSource over out, probing the server as
// `connecthub worker` does (its keepalive) when probe is set.
func remoteOver(t *testing.T, out *outageSource, probe bool) Source {
	cfg := RemoteConfig{Client: &outageRemote{out: out}, Node: "node-a", Logger: testLogger(t)}
	if probe {
		cfg.Probe = probingSource{out}.Probe
	}
	s, err := NewRemoteSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClaimResumesAfterOutage plays a 45 s store outage on a fake clock:
// the claims back off during it (no flood of failing claims), and the
// first claim after the store answers again comes within a second, not
// when the back-off built up by the outage would have ended.
func TestClaimResumesAfterOutage(t *testing.T) {
	t.Parallel()
	probing := func(_ *testing.T, out *outageSource) Source { return probingSource{out} }
	tests := []struct {
		name   string
		source func(*testing.T, *outageSource) Source
		prober bool
		pingOK bool // the store answers pings while claims fail
		// maxOutageClaims bounds the claims tried during the outage.
		maxOutageClaims int
		resumesAtOnce   bool
	}{
		// Back-offs of 1, 2, 4, 8, 16 and 30 s: claims at 0, 1, 3, 7, 15
		// and 31 s, and the next would be at 61 s.
		{name: "store down, probed", source: probing, prober: true, maxOutageClaims: 6, resumesAtOnce: true},
		// The store answers but refuses claims: the probes must not cut
		// the back-off short.
		{name: "claims refused, store answers", source: probing, prober: true, pingOK: true, maxOutageClaims: 6},
		// A Source that cannot probe has its claim retried every probe
		// interval instead.
		{name: "no prober", source: func(_ *testing.T, out *outageSource) Source { return out }, maxOutageClaims: 91, resumesAtOnce: true},
		{name: "remote worker, server down", prober: true, maxOutageClaims: 6, resumesAtOnce: true,
			source: func(t *testing.T, out *outageSource) Source { return remoteOver(t, out, true) }},
		{name: "remote worker without a probe", maxOutageClaims: 91, resumesAtOnce: true,
			source: func(t *testing.T, out *outageSource) Source { return remoteOver(t, out, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			out := &outageSource{pingOK: tt.pingOK, claims: make(chan error, 1000)}
			out.down.Store(true)
			src := tt.source(t, out)
			h.start(t, "node-a", src, func(c *Config) {
				c.Clock = clk
				c.PollInterval = time.Second
			})
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			// parked waits until the claim loop waits out a back-off: the
			// heartbeat's timer (an hour away), the back-off's and the
			// probe's are pending.
			parked := func() {
				t.Helper()
				if err := clk.BlockUntilTimersContext(ctx, 3); err != nil {
					t.Fatalf("the claim loop is not backing off: %v (deadlines %v)", err, clk.Deadlines())
				}
			}

			end := clk.Now().Add(45 * time.Second)
			for clk.Now().Before(end) {
				parked()
				clk.Advance(probeInterval)
			}
			parked()
			failed := len(out.claims)
			for range failed {
				if err := <-out.claims; err == nil {
					t.Fatal("a claim succeeded during the outage")
				}
			}
			if failed > tt.maxOutageClaims {
				t.Errorf("%d claims during a 45s outage, want at most %d", failed, tt.maxOutageClaims)
			}
			if !tt.resumesAtOnce {
				return
			}
			if tt.prober {
				if d := clk.Deadlines(); d[len(d)-2].Sub(clk.Now()) < 10*time.Second {
					t.Fatalf("the back-off left at the end of the outage is %s; the test needs a long one (deadlines %v)",
						d[len(d)-2].Sub(clk.Now()), d)
				}
			}

			out.down.Store(false)
			back := clk.Now()
			clk.Advance(probeInterval)
			if err := recv(t, out.claims, "a claim after the outage"); err != nil {
				t.Fatalf("claim after the outage: %v", err)
			}
			if took := clk.Now().Sub(back); took > time.Second {
				t.Errorf("claimed %s after the store answered again, want within 1s", took)
			}
		})
	}
}

// TestLocalSourceProbe: the local source's probe is the store's ping, so
// it answers while the database does and fails once it does not.
func TestLocalSourceProbe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var src Source = h.source(t, "node-a")
	p, ok := src.(Prober)
	if !ok {
		t.Fatal("LocalSource is not a Prober")
	}
	if err := p.Probe(t.Context()); err != nil {
		t.Errorf("Probe on an open store: %v", err)
	}
	closed, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "closed.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	down := NewLocalSource(closed, h.keys, "node-a", nil, time.Second, nil)
	if err := down.Probe(t.Context()); err == nil {
		t.Error("Probe on a closed store succeeded")
	}
}
