// Package workerapp is the program of `connecthub worker`: a remote worker
// node that registers with a server, claims runs over the worker protocol,
// keeps its node alive, and serves a control port (the proc API, health
// and metrics). internal/cli parses its flags and calls it.
package workerapp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/tracing"
	"github.com/connecthub/connecthub/internal/worker"
)

// DefaultControlListen is the control port's default address: loopback,
// and an ephemeral port, so that several workers on one machine start
// without choosing ports; the chosen address is logged and registered as
// the node's endpoint. Deployments that scrape or probe it set a fixed one.
const DefaultControlListen = "127.0.0.1:0"

// Options are what a worker takes besides its configuration.
type Options struct {
	// Token is the worker's credential for the server; "" means the one
	// Token finds.
	Token string
	// Name is the node's name; "" means hostname-pid.
	Name string
	// ControlListen is the control port's address; "" means
	// DefaultControlListen.
	ControlListen string
	// Labels are the node's labels, shown in the registry.
	Labels map[string]string
	// Handlers are the handlers the worker runs; they are copied.
	Handlers *handler.Registry
	// LogOutput receives the log; nil means os.Stderr.
	LogOutput io.Writer
	// Getenv, when set, is read for the OTEL_* variables that turn tracing
	// on instead of the process's environment, for tests.
	Getenv func(string) string
}

// UsageError is an error of the worker's settings rather than of its run
// (a malformed server URL): the command line reports it as a usage error.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Worker is one remote worker, built by New and run by Run.
type Worker struct {
	cfg  *config.Config
	log  *slog.Logger
	n    *remoteNode
	c    *client.Client
	ln   net.Listener
	ctl  *http.Server
	done chan struct{} // closed once the worker runs (Ready)

	closeLog  func() error
	tracing   *tracing.Tracing // nil when tracing is off; flushed by Close
	closeOnce sync.Once
}

// Token picks the worker's credential when Options.Token is "": the worker
// token of cfg (CONNECTHUB_WORKER_TOKEN), else its admin token, else the
// admin token a server next to it wrote into the data directory, so that a
// worker next to a fresh `connecthub serve` just works. Production workers
// should use a worker-scope token (connecthub token create), which cannot
// call the admin API. No token at all is a *UsageError.
func Token(cfg *config.Config) (string, error) {
	if t := cfg.WorkerToken.Value(); t != "" {
		return t, nil
	}
	if t := cfg.AdminToken.Value(); t != "" {
		return t, nil
	}
	path := filepath.Join(cfg.DataDir, "admin.token")
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return "", &UsageError{Err: fmt.Errorf("no worker token: pass --token, set CONNECTHUB_WORKER_TOKEN (create one with `connecthub token create --name NAME`), or run next to the server's %s", path)}
	}
	return strings.TrimSpace(string(b)), nil
}

// New builds a worker from cfg and opts (a concurrency below 1 or no
// token is a *UsageError): it opens the log and the control
// port and builds the pool, but contacts no server yet.
func New(cfg *config.Config, opts Options) (_ *Worker, err error) {
	if cfg.Workers < 1 {
		return nil, &UsageError{Err: fmt.Errorf("a worker needs a concurrency of at least 1 (--concurrency or CONNECTHUB_WORKERS), got %d", cfg.Workers)}
	}
	if opts.Token == "" {
		if opts.Token, err = Token(cfg); err != nil {
			return nil, err
		}
	}
	w := &Worker{cfg: cfg, done: make(chan struct{})}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if w.log, w.closeLog, err = server.OpenLog(cfg, opts.LogOutput); err != nil {
		return nil, err
	}
	log := w.log
	reg, err := server.Handlers(cfg, opts.Handlers)
	if err != nil {
		return nil, err
	}
	// The HTTP timeout must outlast a claim's long poll.
	w.c, err = client.New(cfg.ServerURL, opts.Token, &http.Client{Timeout: worker.MaxClaimWait + 30*time.Second})
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	name := opts.Name
	if name == "" {
		name = server.NodeName()
	}
	listen := opts.ControlListen
	if listen == "" {
		listen = DefaultControlListen
	}
	if w.ln, err = net.Listen("tcp", listen); err != nil {
		return nil, fmt.Errorf("control port: listen on %s: %w", listen, err)
	}
	endpoint, port := advertised(w.ln.Addr())

	n := &remoteNode{
		name: name, server: cfg.ServerURL, max: cfg.Workers, c: w.c, token: sha256.Sum256([]byte(opts.Token)),
		log: log.With("node", name),
		req: client.RegisterRequest{
			Name: name, Version: connecthub.Version, Endpoint: endpoint, Queues: cfg.Queues,
			Handlers: server.NodeHandlers(reg), MaxConcurrency: cfg.Workers, MetricsPort: port, Labels: opts.Labels,
		},
	}
	w.n = n
	n.src, err = worker.NewRemoteSource(worker.RemoteConfig{
		Client: w.c, Node: name, Logger: log,
		Reregister: n.register, Probe: n.probe,
	})
	if err != nil {
		return nil, err
	}
	// The same OTEL_* variables as serve turn tracing of the runs on.
	if w.tracing, err = tracing.Setup(context.Background(), tracing.Config{Getenv: opts.Getenv, Version: connecthub.Version, Instance: name, Logger: log}); err != nil {
		return nil, err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.pool, err = worker.New(worker.Config{
		Source: n.src, Registry: reg, Node: name, Concurrency: cfg.Workers, Heartbeat: cfg.Heartbeat,
		ShutdownTimeout: cfg.ShutdownTimeout, RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax,
		Logger: log, Metrics: promReg, Tracing: w.tracing,
	})
	if err != nil {
		return nil, err
	}
	w.ctl = &http.Server{
		Handler:           n.controlHandler(promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg})),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return w, nil
}

// Name is the node's name.
func (w *Worker) Name() string { return w.n.name }

// ControlAddr is the address the control port is bound to.
func (w *Worker) ControlAddr() string { return w.ln.Addr().String() }

// Ready is closed once the worker registered and claims.
func (w *Worker) Ready() <-chan struct{} { return w.done }

// Close releases what New acquired (the control port, the log). Run calls
// it when it returns; calling it again does nothing.
func (w *Worker) Close() error {
	var err error
	w.closeOnce.Do(func() {
		if w.ln != nil {
			_ = w.ln.Close() // the control server may have closed it already
		}
		if terr := w.tracing.Close(); terr != nil {
			w.log.Warn("tracing: flushing spans at shutdown failed", "err", terr)
		}
		if w.closeLog != nil {
			err = w.closeLog()
		}
	})
	return err
}

// Run runs the worker until ctx is cancelled, then shuts down gracefully:
// stop claiming; in-flight runs finish within the shutdown timeout, the
// rest are handed back; deregister (prestop); return nil. Call it once.
func (w *Worker) Run(ctx context.Context) error {
	defer w.Close()
	cfg, log, n := w.cfg, w.log, w.n
	go func() { _ = w.ctl.Serve(w.ln) }()
	defer func() {
		shCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = w.ctl.Shutdown(shCtx)
	}()

	// Services run on a context of their own: ctx ends the worker, not the
	// calls of its shutdown.
	svcCtx := context.WithoutCancel(ctx)
	if err := n.registerLoop(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("stopped before the server could be reached")
			return nil
		}
		return err
	}
	if err := n.pool.Start(svcCtx); err != nil {
		return err
	}
	_ = n.keepalive(svcCtx) // present state active at once, not a heartbeat later
	stopKeepalive := make(chan struct{})
	keepaliveDone := make(chan struct{})
	go func() {
		defer close(keepaliveDone)
		n.keepaliveLoop(svcCtx, cfg.Heartbeat, stopKeepalive)
	}()
	log.Info("connecthub worker running", "version", connecthub.Version, "node", n.name, "server", cfg.ServerURL,
		"control", w.ControlAddr(), "queues", strings.Join(cfg.Queues, ","), "concurrency", cfg.Workers,
		"handlers", len(n.req.Handlers))
	close(w.done)

	<-ctx.Done()
	log.Info("shutting down: claiming stopped, letting runs in flight finish", "timeout", cfg.ShutdownTimeout, "running", n.pool.Running())
	n.stopping.Store(true)
	_ = n.keepalive(svcCtx) // tell the registry: deactivating
	stopCtx, cancel := context.WithTimeout(svcCtx, cfg.ShutdownTimeout+15*time.Second)
	defer cancel()
	if err := n.pool.Stop(stopCtx); err != nil {
		log.Warn("worker stop", "err", err)
	}
	close(stopKeepalive)
	<-keepaliveDone
	preCtx, cancelPre := context.WithTimeout(svcCtx, 5*time.Second)
	defer cancelPre()
	if err := w.c.Prestop(preCtx, n.name); err != nil {
		log.Warn("deregistering from the server failed; the registry will declare this node dead", "err", err)
	}
	log.Info("connecthub worker stopped")
	return nil
}
