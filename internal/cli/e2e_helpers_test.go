package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/cli"
)

// server is a connecthub serve started in-process on a random port with a
// temporary data directory.
type server struct {
	t       *testing.T
	dataDir string
	url     string
	token   string
	client  *client.Client
	cancel  context.CancelFunc
	done    chan int
	logs    *syncBuffer
}

// syncBuffer is a goroutine-safe bytes.Buffer for captured output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const testToken = "test-admin-token-0123456789abcdef"

// startServer runs serve with env (on top of test defaults) and the extra
// handlers, and waits until it listens.
func startServer(t *testing.T, dataDir string, env map[string]string, extra ...handler.Spec) *server {
	t.Helper()
	vars := map[string]string{
		"CONNECTHUB_LISTEN":        "127.0.0.1:0",
		"CONNECTHUB_DATA_DIR":      dataDir,
		"CONNECTHUB_ADMIN_TOKEN":   testToken,
		"CONNECTHUB_TIMEZONE":      "UTC",
		"CONNECTHUB_LEASE_TTL":     "3s",
		"CONNECTHUB_HEARTBEAT":     "200ms",
		"CONNECTHUB_LOG_FORMAT":    "text",
		"CONNECTHUB_RETRY_BACKOFF": "50ms",
	}
	for k, v := range env {
		vars[k] = v
	}
	seedMigrated(t, vars)
	reg := handler.NewRegistry()
	for _, s := range extra {
		if err := reg.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, dataDir: dataDir, token: vars["CONNECTHUB_ADMIN_TOKEN"], cancel: cancel, done: make(chan int, 1), logs: &syncBuffer{}}
	ready := make(chan string, 1)
	go func() {
		s.done <- cli.Run(ctx, cli.Env{
			Args:     []string{"serve"},
			Getenv:   func(k string) string { return vars[k] },
			Stdout:   s.logs,
			Stderr:   s.logs,
			Registry: reg,
			DotEnv:   dataDir + "/.env-none",
			Ready:    func(addr string) { ready <- addr },
		})
	}()
	select {
	case addr := <-ready:
		s.url = "http://" + addr
	case code := <-s.done:
		t.Fatalf("serve exited with %d before listening:\n%s", code, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", s.logs.String())
	}
	c, err := client.New(s.url, s.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	t.Cleanup(func() { s.stop() })
	return s
}

// migrated is the database file `connecthub migrate` makes in an empty
// data directory, made once per test binary. Applying the migrations
// costs seconds of disk syncs on a busy machine, and every test starts
// servers on fresh data directories: a copy of this file is the same
// freshly migrated database, for a fraction of the time.
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "connecthub-migrated-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out syncBuffer
	code := cli.Run(context.Background(), cli.Env{Args: []string{"migrate", "--data-dir", dir}, Stdout: &out, Stderr: &out,
		DotEnv: filepath.Join(dir, "none.env")})
	if code != 0 {
		return nil, fmt.Errorf("connecthub migrate: exit %d: %s", code, out.String())
	}
	return os.ReadFile(filepath.Join(dir, "connecthub.db"))
})

// seedMigrated puts a copy of the migrated database into the data
// directory of vars, unless it has a database already (a restart) or vars
// point the server at another database.
func seedMigrated(t *testing.T, vars map[string]string) {
	t.Helper()
	dir := vars["CONNECTHUB_DATA_DIR"]
	if dir == "" || vars["CONNECTHUB_DB_URL"] != "" {
		return
	}
	path := filepath.Join(dir, "connecthub.db")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	db, err := migrated()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, db, 0o600); err != nil { // as serve creates it
		t.Fatal(err)
	}
}

// stop shuts the server down gracefully and returns its exit code.
func (s *server) stop() int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // keep it for a second stop
		return code
	case <-time.After(60 * time.Second):
		s.t.Errorf("serve did not stop:\n%s", s.logs.String())
		return -1
	}
}

// do sends a raw API request and returns status and body.
func (s *server) do(method, path, body string, headers ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *server) createJob(body string) *connecthub.Job {
	s.t.Helper()
	j, err := s.client.CreateJob(context.Background(), json.RawMessage(body))
	if err != nil {
		s.t.Fatalf("create job: %v", err)
	}
	return &j.Job
}

func (s *server) runNow(jobID string) *connecthub.Run {
	s.t.Helper()
	r, err := s.client.RunJob(context.Background(), jobID)
	if err != nil {
		s.t.Fatalf("run job: %v", err)
	}
	return r
}

// waitRun polls the run until cond holds. Polling the API is how a user
// observes a run; the interval is short and the deadline generous.
func (s *server) waitRun(id string, what string, cond func(*connecthub.Run) bool) *connecthub.Run {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last *connecthub.Run
	for time.Now().Before(deadline) {
		r, err := s.client.GetRun(context.Background(), id)
		if err == nil {
			last = r
			if cond(r) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("run %s never became %s; last: %+v\nserver log:\n%s", id, what, last, s.logs.String())
	return nil
}

func (s *server) waitStatus(id string, status connecthub.RunStatus) *connecthub.Run {
	return s.waitRun(id, string(status), func(r *connecthub.Run) bool { return r.Status == status })
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var _ = fmt.Sprintf

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
