package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/handlers/shell"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// OpenStore opens the configured database driver. The commands that work
// on the database without serving it (migrate, backup, secrets rotate) use
// it too, so that every command opens a database the same way.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.DBDriver() {
	case config.DriverSQLite:
		path := cfg.SQLitePath()
		if err := os.MkdirAll(filepath.Dir(path), privateDirMode); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("create SQLite database %s: %w", path, err)
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
			if n := utf8.RuneCountInString(t); n < config.MinSecretLen {
				return "", path, fmt.Errorf("admin token file %s: the admin token must be at least %d characters, got %d: write a longer one or delete the file to generate one",
					path, config.MinSecretLen, n)
			}
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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privateFileMode)
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

// NodeName is hostname-pid, unique per process on a machine; a second node
// in the same process gets a "-2" suffix, and so on. The remote worker
// names itself the same way.
func NodeName() string {
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

// Handlers copies the handlers of regs into a registry of the node's own,
// so that several nodes in one process (tests) do not share state; a
// registry passed twice is copied once. The shell handler is left out
// unless the configuration enables it, because it runs arbitrary commands
// on the host with the node's privileges; httpcall and shell get the
// configuration's egress lists and shell user (see builtin.Configure).
func Handlers(cfg *config.Config, regs ...*handler.Registry) (*handler.Registry, error) {
	out := handler.NewRegistry()
	seen := make(map[*handler.Registry]bool, len(regs))
	builtins := builtin.Options{ShellUser: cfg.ShellUser, HTTPCallDeny: cfg.HTTPCallDeny, HTTPCallAllow: cfg.HTTPCallAllow}
	for _, reg := range regs {
		if reg == nil || seen[reg] {
			continue
		}
		seen[reg] = true
		for _, spec := range reg.List() {
			if spec.Name == shell.Name && !cfg.EnableShell {
				continue
			}
			spec, err := builtin.Configure(spec, builtins)
			if err != nil {
				return nil, err
			}
			if err := out.Add(spec); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// DisabledHandlers names the built-in handlers the configuration switches
// off. The server refuses jobs naming them even when a remote worker
// advertises them, so that a worker token cannot turn shell on for a
// server whose operator left it off.
func DisabledHandlers(cfg *config.Config) []string {
	if cfg.EnableShell {
		return nil
	}
	return []string{shell.Name}
}

// NodeHandlers describes the handlers of reg for the node registry, so that
// the server validates jobs against their schemas.
func NodeHandlers(reg *handler.Registry) []connecthub.NodeHandler {
	specs := reg.List()
	out := make([]connecthub.NodeHandler, 0, len(specs))
	for _, s := range specs {
		out = append(out, connecthub.NodeHandler{Name: s.Name, Description: s.Description, ConfigSchema: s.ConfigSchema, SecretKeys: s.SecretKeys})
	}
	return out
}

// DisplayAddr makes ":8000" and "[::]:8000" clickable as 127.0.0.1:8000.
func DisplayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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
