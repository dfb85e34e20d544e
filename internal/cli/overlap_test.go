package cli_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// overlapScript writes one line per step of a shell run to $OUT: its start
// (attempt, process id, wall time in ns), a tick every 50 ms for two
// seconds, and its end. The ticks are what an overlapping attempt would
// show: a tick of attempt 1 written after attempt 2 started.
const overlapScript = `echo "start $CONNECTHUB_ATTEMPT $$ $(date +%s%N)" >> "$OUT"
i=0
while [ $i -lt 40 ]; do
  echo "tick $CONNECTHUB_ATTEMPT $$ $(date +%s%N)" >> "$OUT"
  sleep 0.05
  i=$((i+1))
done
echo "end $CONNECTHUB_ATTEMPT $$ $(date +%s%N)" >> "$OUT"
`

// overlapLine is one line of the script's output.
type overlapLine struct {
	what    string
	attempt int
	pid     int
	at      int64
}

func readOverlapLines(t *testing.T, path string) []overlapLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []overlapLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue // a line cut by the kill
		}
		attempt, err1 := strconv.Atoi(fields[1])
		pid, err2 := strconv.Atoi(fields[2])
		at, err3 := strconv.ParseInt(fields[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, overlapLine{fields[0], attempt, pid, at})
	}
	return out
}

// TestProcessKill9ShellRunDoesNotOverlapItsRescue is the last part of the
// kill -9 finding: a shell run whose serve is killed with SIGKILL dies
// with it (the supervisor's parent-death signal kills its process group),
// so when the restarted serve rescues the run and starts attempt 2, no
// line of attempt 1 is written after attempt 2 began, and attempt 1 never
// reaches its end.
func TestProcessKill9ShellRunDoesNotOverlapItsRescue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "steps.txt")
	// A lease of 3s rather than the tests' 1s: attempt 2's heartbeats must
	// not miss a lease while a loaded machine slows the restarted serve's
	// first retention pass, or the rescuer takes attempt 2 as well.
	env := map[string]string{"CONNECTHUB_ENABLE_SHELL": "true", "CONNECTHUB_LEASE_TTL": "3s"}
	p := startProc(t, dir, env)
	ctx := context.Background()
	body := `{"id":"overlap","handler":"shell","max_attempts":2,"retry_backoff":"10ms",` +
		`"public_cfg":{"command":"/bin/sh","args":["-c",` + strconv.Quote(overlapScript) + `],"env":{"OUT":` + strconv.Quote(out) + `}}}`
	if _, err := p.client.CreateJob(ctx, []byte(body)); err != nil {
		t.Fatal(err)
	}
	run, err := p.client.RunJob(ctx, "overlap")
	if err != nil {
		t.Fatal(err)
	}
	// Kill serve once attempt 1 is demonstrably running its loop.
	var first overlapLine
	waitFor(t, "attempt 1 to tick", 30*time.Second, func() bool {
		for _, l := range readOverlapLines(t, out) {
			if l.what == "tick" && l.attempt == 1 {
				first = l
				return true
			}
		}
		return false
	})
	p.signal(syscall.SIGKILL)
	p.wait()
	waitFor(t, "attempt 1's shell to die with serve", 10*time.Second, func() bool {
		return syscall.Kill(first.pid, 0) == syscall.ESRCH
	})

	p2 := startProc(t, dir, env)
	done := p2.waitRun(run.ID, "SUCCESS on attempt 2", func(r *connecthub.Run) bool {
		return r.Status == connecthub.StatusSuccess
	})
	if done.Attempt != 2 {
		t.Fatalf("rescued run ended on attempt %d, want 2", done.Attempt)
	}
	lines := readOverlapLines(t, out)
	var start2 int64
	for _, l := range lines {
		if l.what == "start" && l.attempt == 2 {
			start2 = l.at
		}
	}
	if start2 == 0 {
		t.Fatalf("attempt 2 never started:\n%v", lines)
	}
	for _, l := range lines {
		if l.attempt != 1 {
			continue
		}
		if l.what == "end" {
			t.Errorf("attempt 1 reached its end after serve was killed: %v", lines)
		}
		if l.at >= start2 {
			t.Errorf("attempt 1 wrote %q at %d, after attempt 2 started at %d: the runs overlapped", l.what, l.at, start2)
		}
	}
	p2.signal(syscall.SIGTERM)
	if code := p2.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
