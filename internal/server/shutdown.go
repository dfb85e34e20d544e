package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// httpDrainTimeout bounds the last phase of a shutdown: after the listener
// closed, how long clients (a load balancer's kept-alive connections, log
// follows) get to close their connections before the server closes them.
// A proxy in front must close its idle upstream connections sooner
// (nginx: keepalive_timeout in the upstream block, 3s in deploy/nginx),
// so that it never writes a request into a connection this side closes.
const httpDrainTimeout = 5 * time.Second

// httpGate is the HTTP side of a shutdown. It counts the server's open
// connections and, once closing is set, answers every request with
// "Connection: close", so that a client that keeps connections alive
// retires each one after its next response instead of finding it closed.
type httpGate struct {
	closing atomic.Bool

	mu   sync.Mutex
	open int
	none chan struct{} // closed when open drops to 0; nil until waited on
}

// wrap sets "Connection: close" on every response once closing is set.
func (g *httpGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.closing.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// connState is the http.Server's ConnState hook: it counts connections
// from accepted to closed (or hijacked, after which the server no longer
// owns them).
func (g *httpGate) connState(_ net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch st {
	case http.StateNew:
		g.open++
	case http.StateClosed, http.StateHijacked:
		g.open--
		if g.open == 0 && g.none != nil {
			close(g.none)
			g.none = nil
		}
	}
}

// count is the number of open connections.
func (g *httpGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// waitClosed waits until no connection is open, or ctx ends; it reports
// whether none is.
func (g *httpGate) waitClosed(ctx context.Context) bool {
	g.mu.Lock()
	if g.open == 0 {
		g.mu.Unlock()
		return true
	}
	if g.none == nil {
		g.none = make(chan struct{})
	}
	none := g.none
	g.mu.Unlock()
	select {
	case <-none:
		return true
	case <-ctx.Done():
		return false
	}
}

// shutdownHTTP ends the HTTP server without cutting a request a proxy has
// already sent: the listener closes first, so that new connections are
// refused (a proxy retries a refused connection on another replica, even
// for a POST, because nothing was sent); the open connections are answered
// with "Connection: close" and their clients get httpDrainTimeout to close
// them; only then does the server close what is left (idle connections of
// clients that keep them longer, log follows that do not end by
// themselves).
func shutdownHTTP(srv *http.Server, ln net.Listener, gate *httpGate, log *slog.Logger) {
	gate.closing.Store(true)
	_ = ln.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
	defer cancel()
	if gate.waitClosed(ctx) {
		log.Info("shutting down: clients closed their connections", "took", time.Since(start).Round(time.Millisecond))
	} else {
		log.Warn("shutting down: closing the connections clients kept open", "connections", gate.count(), "waited", httpDrainTimeout)
	}
	// Whatever is left is idle or streaming: a short grace for a request
	// that just started, then close.
	last, cancelLast := context.WithTimeout(context.Background(), time.Second)
	defer cancelLast()
	if err := srv.Shutdown(last); err != nil {
		_ = srv.Close()
	}
}

// waitShutdownDelay keeps the node serving for the shutdown delay, with
// readiness already failing, so that a load balancer that probes
// /health/ready (or an orchestrator removing the node from its endpoints)
// takes it out of rotation while it still answers. It returns early with
// the HTTP server's error if the server fails meanwhile.
func waitShutdownDelay(d time.Duration, srvErr <-chan error) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case err := <-srvErr:
		return err
	}
}
