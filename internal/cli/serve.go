package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/extensions/syncoatodidi"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/adminui"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/httpapi"
	"github.com/connecthub/connecthub/internal/logging"
	"github.com/connecthub/connecthub/internal/metrics"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	apitoken "github.com/connecthub/connecthub/internal/token"
	"github.com/connecthub/connecthub/internal/worker"
	"github.com/connecthub/connecthub/internal/workerproto"
)

// serverFlags are the flags that override configuration variables.
type serverFlags struct {
	listen, dataDir, dbURL, workers string
}

func (f *serverFlags) register(cmd *cobra.Command, withServe bool) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "data directory (CONNECTHUB_DATA_DIR)")
	cmd.Flags().StringVar(&f.dbURL, "db-url", "", "database URL (CONNECTHUB_DB_URL)")
	if withServe {
		cmd.Flags().StringVar(&f.listen, "listen", "", "listen address (CONNECTHUB_LISTEN)")
		cmd.Flags().StringVar(&f.workers, "workers", "", "concurrent runs of this node, 0 = none (CONNECTHUB_WORKERS)")
	}
}

func (f *serverFlags) load(env *Env) (*config.Config, error) {
	return config.Load(env.Getenv, env.DotEnv,
		config.Override{Variable: "CONNECTHUB_LISTEN", Value: f.listen, Flag: "--listen"},
		config.Override{Variable: "CONNECTHUB_DATA_DIR", Value: f.dataDir, Flag: "--data-dir"},
		config.Override{Variable: "CONNECTHUB_DB_URL", Value: f.dbURL, Flag: "--db-url"},
		config.Override{Variable: "CONNECTHUB_WORKERS", Value: f.workers, Flag: "--workers"},
	)
}

func newServeCmd(env *Env) *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the scheduler and a worker pool",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), env, cfg)
		},
	}
	flags.register(cmd, true)
	return cmd
}

// openStore opens the configured database driver.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.DBDriver() {
	case config.DriverSQLite:
		path := cfg.SQLitePath()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		return sqlitestore.Open(ctx, path, sqlitestore.Options{})
	case config.DriverPostgres:
		return pgstore.Open(ctx, cfg.DBURL, pgstore.Options{Logger: log})
	default:
		return nil, fmt.Errorf("CONNECTHUB_DB_URL: unsupported database %q", cfg.DBDriver())
	}
}

// adminToken returns the configured admin token, or the one in
// <data>/admin.token, generating that file (mode 0600) on first start.
func adminToken(cfg *config.Config) (token string, path string, err error) {
	if v := cfg.AdminToken.Value(); v != "" {
		return v, "", nil
	}
	path = cfg.AdminTokenPath()
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, path, nil
		}
		return "", path, fmt.Errorf("admin token file %s is empty: delete it to generate a new one", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", path, fmt.Errorf("read admin token: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", path, err
	}
	token = base64.RawURLEncoding.EncodeToString(buf)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it meanwhile: use theirs.
		return adminToken(cfg)
	}
	if err != nil {
		return "", path, fmt.Errorf("create admin token file: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", path, err
	}
	return token, path, f.Close()
}

// nodesInProcess counts the nodes this process started, so that several
// servers run as functions in one process (tests, embedding) still get
// unique node names.
var nodesInProcess atomic.Int64

// nodeName is hostname-pid (the node name docs/api.md documents), unique
// per process on a machine; a second node in the same process gets a "-2"
// suffix, and so on.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "connecthub"
	}
	name := fmt.Sprintf("%s-%d", host, os.Getpid())
	if n := nodesInProcess.Add(1); n > 1 {
		name += fmt.Sprintf("-%d", n)
	}
	return name
}

// buildRegistry returns the built-in handlers plus the custom ones of this
// build, in a registry of its own so that several servers in one process
// (tests) do not share state.
func buildRegistry(extra *handler.Registry, cfg *config.Config) (*handler.Registry, error) {
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{EnableShell: cfg.EnableShell}); err != nil {
		return nil, err
	}
	// The seed's integration examples (Seeyon OA → Didi) ship in the stock
	// binary; they do nothing until a job uses them.
	if err := syncoatodidi.Register(reg); err != nil {
		return nil, err
	}
	for _, spec := range extra.List() {
		if err := reg.Add(spec); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// serve runs the server until ctx is cancelled, then shuts down in an order
// that loses no run: not ready at once (load balancers stop sending); stop
// firing and claiming; in-flight runs finish within the shutdown timeout,
// the rest are handed back; the HTTP server drains; return nil (exit 0).
func serve(ctx context.Context, env *Env, cfg *config.Config) error {
	log, closeLog, err := logging.New(logging.Options{Format: cfg.LogFormat, Level: cfg.LogLevel, Dir: cfg.LogDir, Stdout: env.Stderr})
	if err != nil {
		return err
	}
	defer closeLog.Close()
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	keys, created, err := secret.LoadOrCreate(cfg.FernetKeyPath)
	if err != nil {
		return err
	}
	if created {
		log.Warn("generated a new Fernet key: back it up with the database, secrets are unreadable without it", "path", cfg.FernetKeyPath)
	}
	for _, w := range keys.Warnings() {
		log.Warn(w)
	}
	token, tokenPath, err := adminToken(cfg)
	if err != nil {
		return err
	}
	if tokenPath != "" {
		log.Info("admin token file (use it as Authorization: Bearer <token>)", "path", tokenPath)
	}
	reg, err := buildRegistry(env.Registry, cfg)
	if err != nil {
		return err
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	node := nodeName()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promReg.MustRegister(metrics.NewStatsCollector(st, cfg.Queues))
	if cc, ok := st.(metrics.ConnectionCounter); ok {
		promReg.MustRegister(metrics.NewConnectionsGauge(cc))
	}

	nodes, err := newNodeRuntime(st, cfg, log, promReg) // the node registry: see the end of this file
	if err != nil {
		return err
	}

	svc, err := service.New(service.Config{
		Store: st, Keys: keys, Registry: reg, Logger: log, Nodes: nodes.reg,
		Defaults: connecthub.JobDefaults{Timezone: cfg.Timezone, RetryBackoff: connecthub.Duration(cfg.RetryBackoff)},
	})
	if err != nil {
		return err
	}

	var draining atomic.Bool
	ready := func(ctx context.Context) (bool, string) {
		if draining.Load() {
			return false, "draining"
		}
		if err := st.Ping(ctx); err != nil {
			return false, "db_unavailable"
		}
		return true, ""
	}
	// The admin web UI (/admin); its session cookie also authorises the API.
	ui, err := adminui.New(adminui.Config{Service: svc, AdminToken: token, Username: cfg.AdminUsername,
		Password: cfg.AdminPassword.Value(), SessionTTL: cfg.SessionTTL, Timezone: cfg.Timezone, Node: node, Nodes: svc,
		Logger: log.With("component", "adminui")})
	if err != nil {
		return err
	}
	apiTokens, err := apitoken.New(st, nil) // API tokens with scopes (connecthub token ...)
	if err != nil {
		return err
	}
	proc := &serverProc{name: node, max: cfg.Workers, ping: st.Ping}
	wp, err := workerproto.New(workerproto.Config{Store: st, Nodes: nodes.reg, Keys: keys, LeaseTTL: cfg.LeaseTTL, Heartbeat: cfg.Heartbeat,
		RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax, Ready: ready, Clock: clock.Real(), Logger: log})
	if err != nil {
		return err
	}
	api, err := httpapi.New(httpapi.Config{
		Service: svc, AdminToken: token, MaxBodyBytes: cfg.MaxBodyBytes, Ready: ready, Node: node, Logger: log,
		Metrics:  promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}),
		Sessions: ui.Sessions(), // admin UI session cookie + CSRF token
		Tokens:   apiTokens,
		Worker:   wp,   // the worker protocol (/api/v1/worker)
		Proc:     proc, // this node's proc API (/api/v1/proc); its pool is set below
	})
	if err != nil {
		return err
	}

	sched, err := scheduler.New(scheduler.Config{Store: st, Clock: clock.Real(), Logger: log, Metrics: promReg})
	if err != nil {
		return err
	}
	rescuer := worker.NewRescuer(worker.RescuerConfig{Store: st, LeaseTTL: cfg.LeaseTTL, Logger: log})
	var pool *worker.Worker
	if cfg.Workers > 0 {
		src := worker.NewLocalSource(st, keys, node, cfg.Queues, cfg.LeaseTTL, time.Now)
		// Deferred calls run in reverse: the source closes after the
		// worker stopped (stopAll) and before the store closes.
		defer src.Close()
		pool, err = worker.New(worker.Config{
			Source: src, Registry: reg, Node: node, Concurrency: cfg.Workers, Heartbeat: cfg.Heartbeat,
			ShutdownTimeout: cfg.ShutdownTimeout, RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax,
			Logger: log, Metrics: promReg,
		})
		if err != nil {
			return err
		}
		proc.pool = pool // before the HTTP server starts: no request sees it unset
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: ui.Wrap(api), // /admin → UI, everything else → API
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()

	// Services run on a context of their own: the signal context ends the
	// serve, not the services, which stop in order below.
	svcCtx := context.WithoutCancel(ctx)
	if err := sched.Start(svcCtx); err != nil {
		return err
	}
	if err := rescuer.Start(svcCtx); err != nil {
		return err
	}
	if pool != nil {
		if err := pool.Start(svcCtx); err != nil {
			return err
		}
	}
	addr := ln.Addr().String()
	// Registered before Ready: from then on GET /nodes lists this server.
	if err := nodes.start(svcCtx, node, advertisedURL(cfg.Listen, addr), cfg, reg, pool); err != nil {
		return err
	}
	log.Info("connecthub serving", "version", connecthub.Version, "listen", addr, "url", "http://"+displayAddr(addr),
		"db", cfg.DBDriver(), "node", node, "workers", cfg.Workers)
	if env.Ready != nil {
		env.Ready(addr)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down: not ready, stopping scheduler and claims", "timeout", cfg.ShutdownTimeout)
	case err := <-srvErr:
		log.Error("http server failed", "err", err)
		draining.Store(true)
		stopAll(log, cfg, sched, rescuer, pool, nodes)
		return err
	}
	draining.Store(true)
	stopAll(log, cfg, sched, rescuer, pool, nodes)

	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		// Long-lived streams (log follows) do not end by themselves.
		_ = srv.Close()
	}
	log.Info("connecthub stopped")
	return nil
}

func stopAll(log *slog.Logger, cfg *config.Config, sched *scheduler.Scheduler, rescuer *worker.Rescuer, pool *worker.Worker, nodes *nodeRuntime) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+10*time.Second)
	defer cancel()
	nodes.deactivate(ctx)
	if err := sched.Stop(ctx); err != nil {
		log.Warn("scheduler stop", "err", err)
	}
	if pool != nil {
		if err := pool.Stop(ctx); err != nil {
			log.Warn("worker stop", "err", err)
		}
	}
	nodes.stop(ctx)
	if err := rescuer.Stop(ctx); err != nil {
		log.Warn("rescuer stop", "err", err)
	}
}

// displayAddr makes ":8000" and "[::]:8000" clickable as 127.0.0.1:8000.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// ---------------------------------------------------------------------------
// The node registry: this server's part of it.

// nodeRuntime is what serve runs of the node registry: the reaper, which
// declares silent nodes dead and rescues their runs (every replica runs
// one; a pass is one idempotent transaction), and, when this server has a
// worker pool, the pool's own registration as a node of kind "server",
// kept alive by keepalives and paused or resumed by operators' stop and
// start.
type nodeRuntime struct {
	reg  *node.Registry
	self *node.Self // nil without a worker pool
	log  *slog.Logger
}

func newNodeRuntime(st store.Store, cfg *config.Config, log *slog.Logger, promReg prometheus.Registerer) (*nodeRuntime, error) {
	log = log.With("component", "nodes")
	reg, err := node.New(node.Config{Store: st, DeadAfter: cfg.NodeDeadAfter, Logger: log, Metrics: promReg})
	if err != nil {
		return nil, err
	}
	return &nodeRuntime{reg: reg, log: log}, nil
}

// start starts the reaper and registers the pool, if any, as the node
// name, reachable (API, /metrics) at endpoint. The pool must be started:
// the node reports itself active at once.
func (nr *nodeRuntime) start(ctx context.Context, name, endpoint string, cfg *config.Config, handlers *handler.Registry, pool *worker.Worker) error {
	if err := nr.reg.Start(ctx); err != nil {
		return err
	}
	if pool == nil {
		return nil
	}
	self, err := node.NewSelf(node.SelfConfig{
		Registry: nr.reg,
		Node: &connecthub.Node{
			Name: name, Kind: connecthub.NodeKindServer, Version: connecthub.Version, Endpoint: endpoint,
			Queues: cfg.Queues, Handlers: nodeHandlers(handlers), MaxConcurrency: cfg.Workers, // nodeHandlers: worker.go
		},
		Heartbeat: cfg.Heartbeat,
		Running:   pool.Running,
		Pool:      pool,
		Logger:    nr.log,
	})
	if err != nil {
		return err
	}
	if err := self.Start(ctx); err != nil {
		return err
	}
	nr.self = self
	return nil
}

// deactivate reports the node "deactivating" as shutdown begins, so the
// registry shows it draining rather than serving.
func (nr *nodeRuntime) deactivate(ctx context.Context) {
	if nr.self != nil {
		nr.self.Deactivate(ctx)
	}
}

// stop deregisters the node (after the pool handed its runs back) and
// stops the reaper.
func (nr *nodeRuntime) stop(ctx context.Context) {
	if nr.self != nil {
		if err := nr.self.Stop(ctx); err != nil {
			nr.log.Warn("node deregistration", "err", err)
		}
	}
	if err := nr.reg.Stop(ctx); err != nil {
		nr.log.Warn("node reaper stop", "err", err)
	}
}

// advertisedURL is the URL other machines (Prometheus through service
// discovery, operators) reach this server at: the listen host when it
// names one, else this machine's hostname, with the port actually bound.
func advertisedURL(listen, bound string) string {
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		if host, err = os.Hostname(); err != nil || host == "" {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
