package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/logging"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/worker"
)

// Proc statuses of a node's control API (the proc API of docs/api.md).
const (
	procPending = "PENDING" // not registered yet: not pulling
	procRunning = "RUNNING" // pulling runs
	procAbort   = "ABORT"   // stopped by an operator: finishes in-flight runs, claims nothing
	procError   = "ERROR"   // cannot reach the server
)

// defaultControlListen is the control port's default address: loopback, and
// an ephemeral port, so that several workers on one machine start without
// choosing ports; the chosen address is logged and registered as the
// node's endpoint. Deployments that scrape or probe it set a fixed one.
const defaultControlListen = "127.0.0.1:0"

// workerFlags are the flags of `connecthub worker`.
type workerFlags struct {
	server, token, name, queues, concurrency, controlListen, dataDir string
	labels                                                           map[string]string
}

func newWorkerCmd(env *Env) *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --server URL --token TOKEN",
		Short: "Run a remote worker that pulls runs from a server over the worker protocol",
		Long: "Run a worker node: it registers with the server, claims runs of the queues it serves\n" +
			"(long polls), runs every built-in handler and those of this build, and keeps its node\n" +
			"alive. Its control port serves /api/v1/proc/status|stop|start, /health/live,\n" +
			"/health/ready and /metrics. SIGTERM: stop claiming, finish in-flight runs within\n" +
			"CONNECTHUB_SHUTDOWN_TIMEOUT, hand the rest back, deregister, exit 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(env.Getenv, env.DotEnv,
				config.Override{Variable: "CONNECTHUB_SERVER_URL", Value: f.server, Flag: "--server"},
				config.Override{Variable: "CONNECTHUB_WORKER_TOKEN", Value: f.token, Flag: "--token"},
				config.Override{Variable: "CONNECTHUB_WORKERS", Value: f.concurrency, Flag: "--concurrency"},
				config.Override{Variable: "CONNECTHUB_QUEUES", Value: f.queues, Flag: "--queues"},
				config.Override{Variable: "CONNECTHUB_DATA_DIR", Value: f.dataDir, Flag: "--data-dir"},
			)
			if err != nil {
				return err
			}
			if cfg.Workers < 1 {
				return usageError("a worker needs a concurrency of at least 1 (--concurrency or CONNECTHUB_WORKERS), got %d", cfg.Workers)
			}
			return runWorker(cmd.Context(), env, cfg, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "server URL (CONNECTHUB_SERVER_URL, default http://127.0.0.1:8000)")
	fl.StringVar(&f.token, "token", "", "worker token (CONNECTHUB_WORKER_TOKEN; else the admin token as for client commands)")
	fl.StringVar(&f.name, "name", "", "node name, unique among the nodes (default hostname-pid)")
	fl.StringVar(&f.queues, "queues", "", "comma-separated queues to claim from (CONNECTHUB_QUEUES, default default)")
	fl.StringVar(&f.concurrency, "concurrency", "", "runs executed at once (CONNECTHUB_WORKERS, default 20)")
	fl.StringVar(&f.controlListen, "control-listen", defaultControlListen, "address of the control port (proc API, health, metrics)")
	fl.StringVar(&f.dataDir, "data-dir", "", "where to find admin.token when no token is given (CONNECTHUB_DATA_DIR)")
	fl.StringToStringVar(&f.labels, "label", nil, "a label of the node, key=value (repeatable; shown in the registry and Prometheus SD)")
	return cmd
}

// workerToken picks the worker's credential: --token or
// CONNECTHUB_WORKER_TOKEN, else the admin token the way client commands find
// it, so that a worker next to a fresh `connecthub serve` just works.
// Production workers should use a worker-scope token (connecthub token
// create), which cannot call the admin API.
func workerToken(cfg *config.Config) (string, error) {
	if t := cfg.WorkerToken.Value(); t != "" {
		return t, nil
	}
	if t := cfg.AdminToken.Value(); t != "" {
		return t, nil
	}
	path := filepath.Join(cfg.DataDir, "admin.token")
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return "", usageError("no worker token: pass --token, set CONNECTHUB_WORKER_TOKEN (create one with `connecthub token create --name NAME`), or run next to the server's %s", path)
	}
	return strings.TrimSpace(string(b)), nil
}

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
		return procError
	case n.stopping.Load() || n.pool.Paused():
		return procAbort
	case !n.registered.Load():
		return procPending
	default:
		return procRunning
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
		n.keepalive(ctx)
	}
}

// keepalive sends one keepalive and applies its answer.
func (n *remoteNode) keepalive(ctx context.Context) {
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
			return
		}
	}
	if err != nil {
		if n.keepaliveErr.Swap(&err) == nil {
			n.log.Warn("lost the server: runs in flight go on, outcomes are kept and retried", "server", n.server, "err", err)
		}
		return
	}
	n.src.Reachable()
	if n.keepaliveErr.Swap(nil) != nil {
		n.log.Info("the server is reachable again", "server", n.server)
	}
	n.applySetting(got.SettingState)
}

// runWorker runs `connecthub worker` until ctx is cancelled, then shuts down
// gracefully: stop claiming; in-flight runs finish within the shutdown
// timeout, the rest are handed back; deregister (prestop); return nil.
func runWorker(ctx context.Context, env *Env, cfg *config.Config, f *workerFlags) error {
	log, closeLog, err := logging.New(logging.Options{Format: cfg.LogFormat, Level: cfg.LogLevel, Dir: cfg.LogDir, Stdout: env.Stderr})
	if err != nil {
		return err
	}
	defer closeLog.Close()
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	token, err := workerToken(cfg)
	if err != nil {
		return err
	}
	reg, err := server.Handlers(cfg, handler.Default(), env.Registry)
	if err != nil {
		return err
	}
	// The HTTP timeout must outlast a claim's long poll.
	c, err := client.New(cfg.ServerURL, token, &http.Client{Timeout: worker.MaxClaimWait + 30*time.Second})
	if err != nil {
		return usageError("%v", err)
	}
	name := f.name
	if name == "" {
		name = server.NodeName()
	}

	ln, err := net.Listen("tcp", f.controlListen)
	if err != nil {
		return fmt.Errorf("control port: listen on %s: %w", f.controlListen, err)
	}
	defer ln.Close()
	endpoint, port := advertised(ln.Addr())

	n := &remoteNode{
		name: name, server: cfg.ServerURL, max: cfg.Workers, c: c, token: sha256.Sum256([]byte(token)),
		log: log.With("node", name),
		req: client.RegisterRequest{
			Name: name, Version: connecthub.Version, Endpoint: endpoint, Queues: cfg.Queues,
			Handlers: server.NodeHandlers(reg), MaxConcurrency: cfg.Workers, MetricsPort: port, Labels: f.labels,
		},
	}
	n.src, err = worker.NewRemoteSource(worker.RemoteConfig{
		Client: c, Node: name, Logger: log,
		Reregister: n.register,
	})
	if err != nil {
		return err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.pool, err = worker.New(worker.Config{
		Source: n.src, Registry: reg, Node: name, Concurrency: cfg.Workers, Heartbeat: cfg.Heartbeat,
		ShutdownTimeout: cfg.ShutdownTimeout, RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax,
		Logger: log, Metrics: promReg,
	})
	if err != nil {
		return err
	}

	ctl := &http.Server{
		Handler:           n.controlHandler(promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg})),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { _ = ctl.Serve(ln) }()
	defer func() {
		shCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = ctl.Shutdown(shCtx)
	}()

	// Services run on a context of their own: the signal context ends the
	// worker, not the calls of its shutdown.
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
	n.keepalive(svcCtx) // present state active at once, not a heartbeat later
	stopKeepalive := make(chan struct{})
	keepaliveDone := make(chan struct{})
	go func() {
		defer close(keepaliveDone)
		n.keepaliveLoop(svcCtx, cfg.Heartbeat, stopKeepalive)
	}()
	log.Info("connecthub worker running", "version", connecthub.Version, "node", name, "server", cfg.ServerURL,
		"control", ln.Addr().String(), "queues", strings.Join(cfg.Queues, ","), "concurrency", cfg.Workers,
		"handlers", len(n.req.Handlers))
	if env.Ready != nil {
		env.Ready(ln.Addr().String())
	}

	<-ctx.Done()
	log.Info("shutting down: claiming stopped, letting runs in flight finish", "timeout", cfg.ShutdownTimeout, "running", n.pool.Running())
	n.stopping.Store(true)
	n.keepalive(svcCtx) // tell the registry: deactivating
	stopCtx, cancel := context.WithTimeout(svcCtx, cfg.ShutdownTimeout+15*time.Second)
	defer cancel()
	if err := n.pool.Stop(stopCtx); err != nil {
		log.Warn("worker stop", "err", err)
	}
	close(stopKeepalive)
	<-keepaliveDone
	preCtx, cancelPre := context.WithTimeout(svcCtx, 5*time.Second)
	defer cancelPre()
	if err := c.Prestop(preCtx, name); err != nil {
		log.Warn("deregistering from the server failed; the registry will declare this node dead", "err", err)
	}
	log.Info("connecthub worker stopped")
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

// procStatus is the answer of the proc API.
type procStatus struct {
	Status  string `json:"status"`
	Name    string `json:"name"`
	Server  string `json:"server"`
	Running int    `json:"running"`
	Max     int    `json:"max"`
	Paused  bool   `json:"paused"`
	Error   string `json:"error,omitempty"`
}

func (n *remoteNode) procStatus() procStatus {
	return procStatus{
		Status: n.status(), Name: n.name, Server: n.server, Running: n.pool.Running(), Max: n.max,
		Paused: n.pool.Paused(), Error: n.lastErr(),
	}
}

// controlHandler serves the node's control port. stop and start change
// the node, so they answer only to a loopback client or one that presents
// the worker's own token: the port may be exposed for metrics scraping.
func (n *remoteNode) controlHandler(metrics http.Handler) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/proc/status", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, n.procStatus())
	})
	m.HandleFunc("GET /api/v1/proc/stop", n.guard(func(w http.ResponseWriter, _ *http.Request) {
		n.log.Info("proc stop: pausing")
		n.pool.Pause()
		writeControlJSON(w, http.StatusOK, n.procStatus())
	}))
	m.HandleFunc("GET /api/v1/proc/start", n.guard(func(w http.ResponseWriter, _ *http.Request) {
		if n.stopping.Load() {
			writeControlJSON(w, http.StatusConflict, map[string]any{"error": map[string]string{
				"code": "shutting_down", "message": "the worker is shutting down and cannot be started again"}})
			return
		}
		n.log.Info("proc start: resuming")
		n.pool.Resume()
		writeControlJSON(w, http.StatusOK, n.procStatus())
	}))
	m.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /health/ready", func(w http.ResponseWriter, _ *http.Request) {
		switch n.status() {
		case procRunning, procAbort:
			if n.stopping.Load() {
				writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
				return
			}
			writeControlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		case procPending:
			writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "registering"})
		default:
			writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "server_unavailable"})
		}
	})
	m.Handle("GET /metrics", metrics)
	return m
}

// guard admits loopback clients, and others with the worker's token.
func (n *remoteNode) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
			h(w, r)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && n.tokenMatches(strings.TrimSpace(tok)) {
			h(w, r)
			return
		}
		writeControlJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{
			"code": "forbidden", "message": "proc stop/start answer only to loopback clients or the worker's token (Authorization: Bearer)"}})
	}
}

// tokenMatches compares digests in constant time.
func (n *remoteNode) tokenMatches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], n.token[:]) == 1
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
