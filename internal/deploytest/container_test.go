package deploytest

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// podmanRun are the options every test container gets. runc, not Debian's
// default crun, which fails on this kind of host (hybrid cgroups, its
// rlimits); the host network, so that the tests talk to 127.0.0.1 only;
// explicit limits, because the defaults podman derives from the host's
// are refused by runc here.
var podmanRun = []string{"--runtime", "runc", "run", "--network", "host",
	"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}

// podman runs podman with args and returns its combined output.
func podman(args ...string) (string, error) {
	out, err := exec.Command("podman", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// mustPodman runs podman and fails the test when it fails.
func mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podman(args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// uniqueName is a container, volume or image name of this test alone.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// testImage builds the image of deploy/Containerfile around the current
// tree's static binary, with deploy/image.sh as `make image` does, once per
// test process, and checks that the runtime can start a container from
// it. A machine whose runtime cannot start containers at all skips the
// container tests, or fails them under CONNECTHUB_TEST_STRICT=1.
func testImage(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		skipOrFail(t, "podman is not installed (scripts/ensure-podman.sh installs it with runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		skipOrFail(t, "runc is not installed (scripts/ensure-podman.sh installs it)")
	}
	bin := currentBinary(t)
	return built(t, "image", func(string) (string, string, error) {
		image := "localhost/" + uniqueName("connecthub-deploytest") + ":" + currentVersion
		cmd := exec.Command(filepath.Join(repoRoot(t), "deploy", "image.sh"), bin, image)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("deploy/image.sh: %v\n%s", err, out)
		}
		builtImages = append(builtImages, image)
		args := append(append([]string{}, podmanRun...), "--rm", image, "version")
		if out, err := podman(args...); err != nil || !strings.Contains(out, currentVersion) {
			return "", fmt.Sprintf("podman cannot start a container on this machine (podman %s: %v): %s", strings.Join(args, " "), err, out), nil
		}
		return image, "", nil
	})
}

// builtImages are removed when the tests end.
var builtImages []string

func removeImages() {
	for _, image := range builtImages {
		_, _ = podman("rmi", "-f", image)
	}
}

// container is a detached test container running serve.
type container struct {
	t    *testing.T
	name string
	port int
}

// startContainer runs `serve` from image in the background on a port of
// its own with volume (a named volume, or a host directory) on /data.
func startContainer(t *testing.T, image, volume string, env ...string) *container {
	t.Helper()
	c := &container{t: t, name: uniqueName("connecthub-test"), port: freePort(t)}
	args := append(append([]string{}, podmanRun...), "-d", "--name", c.name, "-v", volume+":/data",
		"-e", fmt.Sprintf("CONNECTHUB_LISTEN=127.0.0.1:%d", c.port), "-e", "CONNECTHUB_TIMEZONE=UTC",
		"-e", "CONNECTHUB_WORKERS=2")
	for _, e := range env {
		args = append(args, "-e", e)
	}
	mustPodman(t, append(args, image)...)
	t.Cleanup(func() { _, _ = podman("rm", "-f", "-t", "0", c.name) })
	return c
}

func (c *container) url() string { return fmt.Sprintf("http://127.0.0.1:%d", c.port) }

// waitHealthy runs the image's health check (`podman healthcheck run`,
// which executes `connecthub healthcheck` in the container) until it
// passes.
func (c *container) waitHealthy() {
	c.t.Helper()
	waitFor(c.t, "the container's health check to pass", 60*time.Second, func() bool {
		// Exit status 0: healthy.
		if _, err := podman("healthcheck", "run", c.name); err == nil {
			return true
		}
		if state, _ := podman("inspect", "--format", "{{.State.Status}}", c.name); state == "exited" {
			logs, _ := podman("logs", c.name)
			c.t.Fatalf("the container exited:\n%s", logs)
		}
		return false
	})
}

// inspect reads one field of podman inspect.
func (c *container) inspect(format string) string {
	c.t.Helper()
	return mustPodman(c.t, "inspect", "--format", format, c.name)
}

// volumePath is where a named volume lives on this host.
func volumePath(t *testing.T, volume string) string {
	t.Helper()
	return mustPodman(t, "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
}

// TestContainerLifecycle runs the image as deploy/docker-compose.yml would
// run one server, on a fresh named volume: the container starts as
// uid 65532 with the binary as PID 1, creates its key, admin token and
// SQLite database with mode 0600 owned by that user, passes its health
// check and runs a job; `podman stop` while a run is in flight drains it
// and exits 0 well within the shutdown timeout; a second container on the
// same volume finds everything.
func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	image := testImage(t)
	volume := uniqueName("connecthub-test-data")
	mustPodman(t, "volume", "create", volume)
	t.Cleanup(func() { _, _ = podman("volume", "rm", "-f", volume) })

	first := startContainer(t, image, volume)
	first.waitHealthy()
	if user := first.inspect("{{.Config.User}}"); user != "65532:65532" {
		t.Errorf("container user = %q, want 65532:65532", user)
	}
	pid := first.inspect("{{.State.Pid}}")
	if cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline"); err != nil || strings.ReplaceAll(string(cmdline), "\x00", " ") != "/connecthub serve " {
		t.Errorf("the container's PID 1 runs %q (%v), want /connecthub serve", cmdline, err)
	}
	if status, err := os.ReadFile("/proc/" + pid + "/status"); err != nil || !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
		t.Errorf("PID 1 is not uid 65532 (%v):\n%s", err, status)
	}
	data := volumePath(t, volume)
	for _, f := range []string{"fernet.key", "admin.token", "connecthub.db"} {
		info, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Errorf("%s in the fresh volume: %v", f, err)
			continue
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode().Perm() != 0o600 || st.Uid != 65532 {
			t.Errorf("%s: mode %04o, uid %d; want 0600, 65532", f, info.Mode().Perm(), st.Uid)
		}
	}
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientWithToken(first.url(), strings.TrimSpace(string(token)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, j := range []string{
		`{"id":"hello","handler":"noop","secret_cfg":{"k":"container-secret"}}`,
		`{"id":"nap","handler":"sleep","public_cfg":{"seconds":3}}`,
	} {
		if _, err := c.CreateJob(ctx, []byte(j)); err != nil {
			t.Fatal(err)
		}
	}
	if run := runJobAndWait(t, c, "hello"); run.Status != connecthub.StatusSuccess {
		t.Fatalf("run in the container: %s %s", run.Status, run.Error)
	}

	// podman stop while a run is in flight: SIGTERM, the run finishes, exit 0.
	nap, err := c.RunJob(ctx, "nap")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to start", 30*time.Second, func() bool {
		r, err := c.GetRun(ctx, nap.ID)
		return err == nil && r.Status == connecthub.StatusRunning
	})
	start := time.Now()
	mustPodman(t, "stop", "-t", "40", first.name)
	took := time.Since(start)
	code := first.inspect("{{.State.ExitCode}}")
	logs, _ := podman("logs", first.name)
	if code != "0" {
		t.Errorf("exit code after podman stop = %s, want 0:\n%s", code, logs)
	}
	if took >= 25*time.Second {
		t.Errorf("podman stop took %s, beyond the 25s shutdown timeout", took)
	}
	t.Logf("podman stop with a 3s run in flight: exit %s after %s", code, took.Round(time.Millisecond))

	// A second container on the same volume sees the data and the run the
	// first one finished while draining.
	second := startContainer(t, image, volume)
	second.waitHealthy()
	c, err = clientWithToken(second.url(), strings.TrimSpace(string(token)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.GetRun(ctx, nap.ID)
	if err != nil || r.Status != connecthub.StatusSuccess || len(r.Attempts) > 1 {
		t.Errorf("the run in flight at podman stop, seen from the second container: %+v, %v; want SUCCESS at its only attempt", r, err)
	}
	if run := runJobAndWait(t, c, "hello"); run.Status != connecthub.StatusSuccess {
		t.Errorf("run of the job with a secret in the second container: %s %s", run.Status, run.Error)
	}
	mustPodman(t, "stop", "-t", "40", second.name)
	checkImageFiles(t, second.name)
}

// checkImageFiles lists the container's file system (podman export) and
// checks what the image holds besides the binary: what distroless gives.
func checkImageFiles(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command("podman", "export", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		got[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = fmt.Sprintf("%o %d:%d", h.Mode&0o7777, h.Uid, h.Gid)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman export: %v", err)
	}
	for path, want := range map[string]string{
		"connecthub":                        "755 0:0",
		"tmp":                               "1777 0:0",
		"etc/passwd":                        "644 0:0",
		"etc/group":                         "644 0:0",
		"etc/ssl/certs/ca-certificates.crt": "644 0:0",
	} {
		if got[path] != want {
			t.Errorf("%s in the image: %q, want mode and owner %q", path, got[path], want)
		}
	}
}

// TestContainerVolumeOfAnotherUser starts the image on a data directory
// that belongs to another user: the container exits with an error that
// names the directory, both users and the fix.
func TestContainerVolumeOfAnotherUser(t *testing.T) {
	t.Parallel()
	image := testImage(t)
	if os.Geteuid() != 0 {
		skipOrFail(t, "giving a directory to another user needs root")
	}
	dir := openTempDir(t, "connecthub-other-owner-")
	if err := os.Chown(dir, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("connecthub-test")
	args := append(append([]string{}, podmanRun...), "--name", name, "-v", dir+":/data",
		"-e", "CONNECTHUB_LISTEN=127.0.0.1:"+strconv.Itoa(freePort(t)), image)
	t.Cleanup(func() { _, _ = podman("rm", "-f", "-t", "0", name) })
	out, err := podman(args...)
	if err == nil {
		t.Fatalf("the container started on a volume it cannot write:\n%s", out)
	}
	want := "the data directory /data is not writable by this process (uid 65532, gid 65532) and belongs to uid 1234, gid 1234 with mode 0700"
	if !strings.Contains(out, want) || !strings.Contains(out, "chown -R") {
		t.Errorf("start-up error:\n%s\nwant it to contain %q and the fix", out, want)
	}
	if code := mustPodman(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "1" {
		t.Errorf("exit code %s, want 1", code)
	}
}
