//go:build linux

package cli_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// smallDisk mounts a tmpfs of size bytes for the test and returns its
// path: a real disk that fills up, which needs root (CAP_SYS_ADMIN). The
// test is skipped, saying why, where mounting is not allowed.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small tmpfs, which only root can mount; run the tests as root to include this one")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+strconv.Itoa(size)+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v): this container does not allow mounts", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes path until the disk is full and returns the file.
func fillDisk(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return f
		}
	}
}

// fullDiskScript waits for $GO, prints far more than the full disk can
// take, says so in $PRINTED and waits for $FREE before it ends.
const fullDiskScript = `while [ ! -e "$GO" ]; do sleep 0.02; done
yes "a line of the log that cannot be stored on a full disk" | head -n 300000
: > "$PRINTED"
while [ ! -e "$FREE" ]; do sleep 0.02; done
echo "the end"`

// TestProcessDiskFullReadinessAndLogMarker is the disk-full finding on a
// real full disk: a serve whose SQLite database lives on a small tmpfs
// that fills up while a run logs answers readiness 503 storage_error; the
// run, whose log could not all be stored, still ends SUCCESS, its log ends
// with the incomplete marker once a little room is back, and its message
// says the log is incomplete; readiness recovers when the disk has room.
func TestProcessDiskFullReadinessAndLogMarker(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 24<<20)
	gates := t.TempDir()
	gate := func(name string) string { return filepath.Join(gates, name) }
	p := startProc(t, disk, map[string]string{
		"CONNECTHUB_ENABLE_SHELL": "true",
		// Room for the whole output, so that only the disk cuts the log.
		"CONNECTHUB_RUN_LOG_MAX_BYTES": strconv.Itoa(64 << 20),
		"CONNECTHUB_LEASE_TTL":         "30s",
		"CONNECTHUB_HEARTBEAT":         "1s",
	})
	ctx := context.Background()
	env := fmt.Sprintf(`{"GO":%q,"PRINTED":%q,"FREE":%q}`, gate("go"), gate("printed"), gate("free"))
	body := `{"id":"fills-the-disk","handler":"shell","max_attempts":1,` +
		`"public_cfg":{"command":"/bin/sh","args":["-c",` + strconv.Quote(fullDiskScript) + `],"env":` + env + `}}`
	if _, err := p.client.CreateJob(ctx, []byte(body)); err != nil {
		t.Fatal(err)
	}
	run, err := p.client.RunJob(ctx, "fills-the-disk")
	if err != nil {
		t.Fatal(err)
	}
	p.waitRun(run.ID, "the run to start", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })

	filler := fillDisk(t, filepath.Join(disk, "filler"))
	touch(t, gate("go"))
	ready := func() (int, string) {
		resp, err := http.Get(p.url + "/health/ready")
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "the output to be printed", 60*time.Second, func() bool { return exists(gate("printed")) })
	waitFor(t, "readiness to answer 503 storage_error on the full disk", 60*time.Second, func() bool {
		code, body := ready()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "storage_error")
	})

	// A little room, far less than the log: the log stays cut, the marker
	// and the outcome fit.
	st, err := filler.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := filler.Truncate(st.Size() - 2<<20); err != nil {
		t.Fatal(err)
	}
	touch(t, gate("free"))
	done := p.waitRun(run.ID, "the run to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
	if done.Status != connecthub.StatusSuccess || !strings.Contains(done.Message, "log incomplete: ") {
		t.Errorf("run ended %s with message %q; want SUCCESS and the log-incomplete warning", done.Status, done.Message)
	}
	log, _, err := p.client.RunLog(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(log, "]\n") || !strings.Contains(log[max(0, len(log)-300):], "[LOG INCOMPLETE: ") {
		t.Errorf("the log (%d bytes) does not end with the incomplete marker: ...%q", len(log), log[max(0, len(log)-300):])
	}
	t.Logf("stored %d bytes of the log; message %q", len(log), done.Message)
	if len(log) > 10<<20 {
		t.Errorf("the log holds %d bytes: the disk did not cut it", len(log))
	}

	filler.Close()
	if err := os.Remove(filler.Name()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readiness to recover once the disk has room", 30*time.Second, func() bool {
		code, _ := ready()
		return code == http.StatusOK
	})
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
