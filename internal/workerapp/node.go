package workerapp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/httpapi"
	"github.com/connecthub/connecthub/internal/worker"
)

// remoteNode is the state of a running `connecthub worker` that its control
// API and keepalives report.
type remoteNode struct {
	name   string
	server string
	token  [32]byte // SHA-256 of the worker's token, for the control port's guard
	max    int
	c      *client.Client
	req    client.RegisterRequest
	log    *slog.Logger
	pool   *worker.Worker
	src    *worker.RemoteSource

	registerMu   sync.Mutex
	registered   atomic.Bool
	stopping     atomic.Bool
	keepaliveErr atomic.Pointer[error]
	// setting is the last setting_state the server reported; a change is
	// applied to the pool (inactive → Pause, active → Resume), so that the
	// last of an operator's stop/start, on the server or the control port,
	// wins.
	settingMu sync.Mutex
	setting   string
}

// register registers the node, and applies the setting state the server
// answers with.
func (n *remoteNode) register(ctx context.Context) error {
	n.registerMu.Lock()
	defer n.registerMu.Unlock()
	got, err := n.c.Register(ctx, n.req)
	if err != nil {
		return err
	}
	n.registered.Store(true)
	n.src.Reachable()
	n.applySetting(got.SettingState)
	return nil
}

// applySetting pauses or resumes the pool when the server's setting state
// changed since it was last seen.
func (n *remoteNode) applySetting(setting string) {
	n.settingMu.Lock()
	defer n.settingMu.Unlock()
	if setting == "" || setting == n.setting {
		return
	}
	n.setting = setting
	switch setting {
	case connecthub.NodeInactive:
		n.log.Info("the server says this node is stopped (setting_state inactive): pausing")
		n.pool.Pause()
	case connecthub.NodeActive:
		n.pool.Resume()
	}
}

// status is the proc status.
func (n *remoteNode) status() string {
	switch {
	case n.src.Err() != nil || n.keepaliveErr.Load() != nil:
		return httpapi.ProcError
	case n.stopping.Load() || n.pool.Paused():
		return httpapi.ProcAbort
	case !n.registered.Load():
		return httpapi.ProcPending
	default:
		return httpapi.ProcRunning
	}
}

// lastErr is the last failure to reach the server, for the status answer.
func (n *remoteNode) lastErr() string {
	if err := n.src.Err(); err != nil {
		return err.Error()
	}
	if p := n.keepaliveErr.Load(); p != nil {
		return (*p).Error()
	}
	return ""
}

// registerLoop registers until it succeeds or ctx ends, retrying with
// back-off: a worker may start before its server.
func (n *remoteNode) registerLoop(ctx context.Context) error {
	wait := 200 * time.Millisecond
	for failures := 0; ; failures++ {
		err := n.register(ctx)
		if err == nil {
			n.keepaliveErr.Store(nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if st := client.StatusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden || st == http.StatusBadRequest {
			// The server refuses this worker: retrying cannot help.
			return fmt.Errorf("the server refused to register this worker: %w", err)
		}
		n.keepaliveErr.Store(&err)
		if failures == 0 || failures%10 == 0 {
			n.log.Warn("cannot register with the server yet; retrying", "server", n.server, "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// keepaliveLoop sends a keepalive every interval until stop is closed.
func (n *remoteNode) keepaliveLoop(ctx context.Context, interval time.Duration, stop <-chan struct{}) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		_ = n.keepalive(ctx) // a failure is recorded for the proc status and logged once
	}
}

// probe tells the worker pool, backing off after failed claims, whether
// the server answers again: it is a keepalive (which the server records in
// its database, so an answer means the store is back too). An answer that
// refuses the request still comes from a server that answers.
func (n *remoteNode) probe(ctx context.Context) error {
	err := n.keepalive(ctx)
	if st := client.StatusOf(err); st >= 400 && st < 500 {
		return nil
	}
	return err
}

// keepalive sends one keepalive and applies its answer; it returns the
// error of a keepalive that failed.
func (n *remoteNode) keepalive(ctx context.Context) error {
	state := connecthub.NodeActive
	if n.stopping.Load() {
		state = connecthub.NodeDeactivating
	}
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := n.c.Keepalive(callCtx, client.KeepaliveRequest{Name: n.name, State: state, Running: n.pool.Running()})
	if client.CodeOf(err) == "not_registered" {
		n.log.Warn("the server does not know this node (removed, or declared dead); registering again")
		err = n.register(callCtx)
		if err == nil {
			n.keepaliveErr.Store(nil)
			return nil
		}
	}
	if err != nil {
		if n.keepaliveErr.Swap(&err) == nil {
			n.log.Warn("lost the server: runs in flight go on, outcomes are kept and retried", "server", n.server, "err", err)
		}
		return err
	}
	n.src.Reachable()
	if n.keepaliveErr.Swap(nil) != nil {
		n.log.Info("the server is reachable again", "server", n.server)
	}
	n.applySetting(got.SettingState)
	return nil
}

// advertised returns the control address others should use (host:port,
// with this machine's hostname instead of an unspecified host) and its port.
func advertised(addr net.Addr) (string, int) {
	host, portStr, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String(), 0
	}
	port, _ := strconv.Atoi(portStr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, portStr), port
}
