package testpg

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fakeTB records how fresh ended a test. Skip and Fatal stop the calling
// goroutine, as the real ones do, so the code after them must not run.
type fakeTB struct {
	testing.TB // nil: calling anything not overridden panics, which is a test bug

	mu               sync.Mutex
	skipped, fatal   string
	cleanups         int
	returnedNormally bool
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "TestFake" }
func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Cleanup(func())                    { f.mu.Lock(); f.cleanups++; f.mu.Unlock() }

// run calls fresh on a fake test in its own goroutine (Skip and Fatal end
// that goroutine) and waits for it.
func (f *fakeTB) run(env map[string]string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fresh(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		f.mu.Lock()
		f.returnedNormally = true
		f.mu.Unlock()
	}()
	<-done
}

func TestMissingServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       map[string]string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "unset skips", env: map[string]string{}, wantSkip: true},
		{name: "blank skips", env: map[string]string{EnvURL: "  "}, wantSkip: true},
		{name: "strict other than 1 skips", env: map[string]string{EnvStrict: "true"}, wantSkip: true},
		{name: "strict fails", env: map[string]string{EnvStrict: "1"}, wantFatal: true},
		{name: "unparsable URL fails", env: map[string]string{EnvURL: "postgres://u:secret@h/%zz"}, wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeTB{}
			f.run(tt.env)
			if f.returnedNormally {
				t.Fatal("fresh returned a schema without a server")
			}
			if got := f.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped = %q, want skip %v", f.skipped, tt.wantSkip)
			}
			if got := f.fatal != ""; got != tt.wantFatal {
				t.Errorf("fatal = %q, want fatal %v", f.fatal, tt.wantFatal)
			}
			if tt.wantSkip && f.skipped != skipMessage {
				t.Errorf("skip message = %q, want %q", f.skipped, skipMessage)
			}
			if strings.Contains(f.fatal, "secret") {
				t.Errorf("fatal message repeats the URL: %q", f.fatal)
			}
			if f.cleanups != 0 {
				t.Errorf("registered %d cleanups for nothing", f.cleanups)
			}
		})
	}
}

func TestSchemaName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^t_[a-z0-9_]*_[0-9a-f]{12}$`)
	tests := []string{
		"TestX",
		"TestStore/Runs/claim_order#01",
		strings.Repeat("TestVeryLong/", 20),
		"Test€unicode",
	}
	for _, name := range tests {
		a, b := schemaName(name), schemaName(name)
		if a == b {
			t.Errorf("schemaName(%q) twice = %q both times", name, a)
		}
		if len(a) > maxIdentifier || !valid.MatchString(a) {
			t.Errorf("schemaName(%q) = %q (%d bytes): not a plain identifier of at most %d bytes", name, a, len(a), maxIdentifier)
		}
	}
}

func TestWithSearchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"postgres://u@h:5/db?sslmode=disable", "postgres://u@h:5/db?search_path=s1&sslmode=disable"},
		{"postgresql://u:p@h/db", "postgresql://u:p@h/db?search_path=s1"},
		{"postgres://u@h/db?search_path=old", "postgres://u@h/db?search_path=s1"},
		{"host=h port=5 dbname=db", "host=h port=5 dbname=db search_path=s1"},
	}
	for _, tt := range tests {
		got, err := withSearchPath(tt.in, "s1")
		if err != nil || got != tt.want {
			t.Errorf("withSearchPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := withSearchPath("postgres://u:secret@h/%zz", "s1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: err = %v, want an error that does not repeat the password", err)
	}
}

// TestURL checks against a real server that the schema is fresh, private,
// selected by the URL, and dropped when the test ends.
func TestURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var schema string
	t.Run("inner", func(t *testing.T) {
		u := URL(t)
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatalf("current_schema: %v", err)
		}
		if !strings.HasPrefix(schema, "t_testurl_inner_") {
			t.Fatalf("current_schema = %q, want the test's fresh schema", schema)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&n); err != nil || n != 0 {
			t.Fatalf("tables in the fresh schema: %d, %v; want 0", n, err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE probe (x int)"); err != nil {
			t.Fatalf("create table in the fresh schema: %v", err)
		}
		// A second schema for the same test is another, empty one.
		other := URL(t)
		if other == u {
			t.Fatalf("two calls returned the same URL %q", u)
		}
	})
	if t.Failed() {
		return
	}
	serverURL, _ := Schema(t)
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("schema %s still exists after its test ended", schema)
	}
}
