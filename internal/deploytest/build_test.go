package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// previousRelease is the commit the upgrade tests build as the previous
// release: the last one at schema version 4, before migration 5 bound
// worker tokens to node names and queues. The repository has no release
// tags yet; when it has, this becomes the last tag.
const previousRelease = "d91cd0c0b271d16ac38805a321bf05e1c49cff06"

// currentVersion is the version compiled into the current tree's binary.
const currentVersion = "v0.0.0-deploytest"

// builds are the binaries built by this test process, each once, in a
// directory removed when the tests end (cleanBuilds, from TestMain).
var builds struct {
	mu   sync.Mutex
	dir  string
	done map[string]buildResult
}

type buildResult struct {
	path string
	err  error
	skip string // why the build cannot be tried at all
}

func cleanBuilds() {
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
}

// goTool is the go command that builds binaries: the one running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// built returns the binary named key, building it with build on first use;
// build returns the binary's path, or a skip reason when its inputs are
// missing.
func built(t *testing.T, key string, build func(dir string) (path, skip string, err error)) string {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.done == nil {
		builds.done = map[string]buildResult{}
	}
	r, ok := builds.done[key]
	if !ok {
		if builds.dir == "" {
			dir, err := os.MkdirTemp("", "connecthub-deploytest-")
			if err != nil {
				t.Fatal(err)
			}
			// Containers run the binary as another user: it must be
			// readable and executable by everyone.
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			builds.dir = dir
		}
		dir := filepath.Join(builds.dir, key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r.path, r.skip, r.err = build(dir)
		if r.err == nil && r.skip == "" {
			t.Logf("built %s in %s", key, time.Since(start).Round(time.Millisecond))
		}
		builds.done[key] = r
	}
	switch {
	case r.skip != "":
		skipOrFail(t, "%s", r.skip)
	case r.err != nil:
		t.Fatalf("building %s: %v", key, r.err)
	}
	return r.path
}

// goBuild builds ./cmd/connecthub of the source tree src into out as a
// static binary, the way `make build` does, with version compiled in.
func goBuild(src, out, version string) error {
	cmd := exec.Command(goTool(), "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/connecthub/connecthub.Version="+version,
		"-o", out, "./cmd/connecthub")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", src, err, b)
	}
	return nil
}

// previousBinary builds the previous release (previousRelease) from this
// repository's history: git archive into a temporary directory, then go
// build. Without the history (a shallow clone, a source tarball) the tests
// that need it skip, or fail under CONNECTHUB_TEST_STRICT=1.
func previousBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	return built(t, "previous", func(dir string) (string, string, error) {
		if _, err := exec.LookPath("git"); err != nil {
			return "", "git is not installed: the previous release cannot be built from history", nil
		}
		if err := exec.Command("git", "-C", root, "cat-file", "-e", previousRelease+"^{commit}").Run(); err != nil {
			return "", fmt.Sprintf("commit %s (the previous release) is not in this clone's history (shallow clone?): git fetch --unshallow", previousRelease[:12]), nil
		}
		src := filepath.Join(dir, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			return "", "", err
		}
		archive := exec.Command("git", "-C", root, "archive", "--format=tar", previousRelease)
		untar := exec.Command("tar", "-x", "-C", src)
		pipe, err := archive.StdoutPipe()
		if err != nil {
			return "", "", err
		}
		untar.Stdin = pipe
		var errs strings.Builder
		archive.Stderr, untar.Stderr = &errs, &errs
		if err := untar.Start(); err != nil {
			return "", "", err
		}
		if err := archive.Run(); err != nil {
			return "", "", fmt.Errorf("git archive: %v: %s", err, errs.String())
		}
		if err := untar.Wait(); err != nil {
			return "", "", fmt.Errorf("tar: %v: %s", err, errs.String())
		}
		out := filepath.Join(dir, "connecthub")
		if err := goBuild(src, out, previousRelease[:12]); err != nil {
			return "", "", err
		}
		return out, "", nil
	})
}

// currentBinary builds this tree's connecthub as a static binary, like
// `make build`: the one the container image holds.
func currentBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	return built(t, "current", func(dir string) (string, string, error) {
		out := filepath.Join(dir, "connecthub")
		return out, "", goBuild(root, out, currentVersion)
	})
}
