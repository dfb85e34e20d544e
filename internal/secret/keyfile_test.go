package secret

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 3)
	k1, k2, k3 := keys[0], keys[1], keys[2]
	tests := []struct {
		name string
		text string
		want []string // keys in order
	}{
		{"one key", k1, []string{k1}},
		{"trailing newline", k1 + "\n", []string{k1}},
		{"no padding", strings.TrimRight(k1, "="), []string{k1}},
		{"several lines", k1 + "\n" + k2 + "\n" + k3, []string{k1, k2, k3}},
		{"comments and blanks", "# current\n\n" + k1 + "\n  # old\n\t" + k2 + "  \n\n", []string{k1, k2}},
		{"CRLF and BOM", "\ufeff" + k1 + "\r\n" + k2 + "\r\n", []string{k1, k2}},
		{"comma list", k1 + "," + k2 + " , " + k3 + ",", []string{k1, k2, k3}},
		{"comma list and lines", k1 + ",\n" + k2 + ",," + k3, []string{k1, k2, k3}},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(k1), []string{k1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := Parse(tt.text, "keys.txt")
			if err != nil {
				t.Fatal(err)
			}
			if len(k.keys) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(k.keys), len(tt.want))
			}
			for i, key := range tt.want {
				if k.keys[i] != mustParse(t, key).keys[0] {
					t.Errorf("key %d differs", i)
				}
			}
			if k.Source() != "keys.txt" || len(k.Warnings()) != 0 {
				t.Errorf("Source, Warnings = %q, %q", k.Source(), k.Warnings())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 1)
	good := keys[0]
	const secretish = "c2VjcmV0LWtleS1tYXRlcmlhbA"
	tests := []struct {
		name, text string
		want       []string // all must be in the error
	}{
		{"empty", "", []string{"/data/fernet.key:", "no Fernet key"}},
		{"only comments", "# nothing here\n\n  \n", []string{"/data/fernet.key:", "no Fernet key"}},
		{"bad base64 on line 3", good + "\n# c\n" + "not*base64" + secretish, []string{"/data/fernet.key line 3:", "not URL-safe base64"}},
		{"short key on line 2", good + "\n" + secretish, []string{"/data/fernet.key line 2:", "decodes to 19 bytes, want 32"}},
		{"long key", good + good, []string{"line 1:", "not URL-safe base64"}},
		{"second of a comma list", good + "," + secretish, []string{"/data/fernet.key line 1, key 2:", "decodes to 19 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := Parse(tt.text, "/data/fernet.key")
			if err == nil {
				t.Fatalf("Parse = %v, want an error", k)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), secretish[:10]) || strings.Contains(err.Error(), good[:10]) {
				t.Errorf("error %q shows key material", err)
			}
		})
	}
	if _, err := Parse("", ""); err == nil || !strings.Contains(err.Error(), "Fernet key list") {
		t.Errorf("Parse without a source: %v", err)
	}
}

func TestLoadOrCreateCreates(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "fernet.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want created", created, err)
	}
	if k.Source() != path || len(k.keys) != 1 || len(k.Warnings()) != 0 {
		t.Errorf("Source %q, %d keys, warnings %q", k.Source(), len(k.keys), k.Warnings())
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %04o, want 0600", perm)
		}
		info, err = os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("created directory mode %04o is open to others", perm)
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly one key on one line, no comment: what Python's Fernet reads.
	if !oneKeyLine.Match(text) {
		t.Errorf("created key file is not exactly one key on one line:\n%q", text)
	}
	assertNoTempFiles(t, dir)

	// The second start reads the same key.
	again, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v; want loaded", created, err)
	}
	token, _ := k.Encrypt([]byte("x"))
	if got, err := again.Decrypt(token); err != nil || string(got) != "x" {
		t.Errorf("reloaded keyring cannot decrypt: %q, %v", got, err)
	}
}

// oneKeyLine is a key file that holds one Fernet key (32 bytes in URL-safe
// base64, padded) and a newline, nothing else.
var oneKeyLine = regexp.MustCompile(`\A[A-Za-z0-9_-]{43}=\n\z`)

// TestCreatedKeyFileLoadsInPython checks the rollback path: the Python
// ConnectHub reads its key with Fernet(open(path).read().strip()), so a key
// file ConnectHub generates must load that way and decrypt what Go
// encrypted. It needs python3 with the cryptography package (Debian:
// apt-get install python3-cryptography); without it the test is skipped,
// unless CONNECTHUB_TEST_STRICT=1 makes the missing interpreter a failure.
func TestCreatedKeyFileLoadsInPython(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("python3", "-c", "import cryptography.fernet").CombinedOutput(); err != nil {
		msg := "python3 with the cryptography package is not available (apt-get install python3-cryptography): " +
			strings.TrimSpace(string(out)) + " " + err.Error()
		if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	path := filepath.Join(t.TempDir(), "fernet.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want created", created, err)
	}
	token, err := k.Encrypt([]byte("rollback works"))
	if err != nil {
		t.Fatal(err)
	}
	const script = `import sys
from cryptography.fernet import Fernet
f = Fernet(open(sys.argv[1]).read().strip())
sys.stdout.write(f.decrypt(sys.argv[2].encode()).decode())
`
	out, err := exec.Command("python3", "-c", script, path, token).CombinedOutput()
	if err != nil {
		t.Fatalf("Python cannot load the generated key file: %v\n%s", err, out)
	}
	if string(out) != "rollback works" {
		t.Errorf("Python decrypted %q, want %q", out, "rollback works")
	}
}

// TestOldKeyFilesWithCommentsStillLoad keeps files written by earlier
// versions, which began with comment lines, readable.
func TestOldKeyFilesWithCommentsStillLoad(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 1)
	path := filepath.Join(t.TempDir(), "fernet.key")
	old := "# ConnectHub Fernet key(s), one per line: the first encrypts, every key decrypts.\n" +
		"# Losing this file makes every stored secret_cfg unreadable; nothing can recover it.\n" +
		"# Back it up together with the database.\n" + keys[0] + "\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	k, created, err := LoadOrCreate(path)
	if err != nil || created || len(k.keys) != 1 {
		t.Fatalf("LoadOrCreate = %v, %v; want the one key loaded", created, err)
	}
	if text, _ := os.ReadFile(path); string(text) != old {
		t.Errorf("loading rewrote the key file:\n%q", text)
	}
}

func TestLoadOrCreateReadsExisting(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 2)
	path := filepath.Join(t.TempDir(), "fernet.key")
	if err := os.WriteFile(path, []byte("# rotated\n"+keys[0]+"\n"+keys[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, created, err := LoadOrCreate(path)
	if err != nil || created || len(k.keys) != 2 {
		t.Fatalf("LoadOrCreate = %v, %v; want 2 keys loaded", created, err)
	}
	if len(k.Warnings()) != 0 {
		t.Errorf("warnings for a 0600 file: %q", k.Warnings())
	}
}

func TestLoadOrCreateWarnsAboutOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	t.Parallel()
	_, keys := setup(t, 1)
	path := filepath.Join(t.TempDir(), "fernet.key")
	if err := os.WriteFile(path, []byte(keys[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	k, _, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	w := k.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], path) || !strings.Contains(w[0], "0644") || !strings.Contains(w[0], "chmod 600") {
		t.Errorf("Warnings = %q", w)
	}
	w[0] = "changed"
	if k.Warnings()[0] == "changed" {
		t.Error("Warnings returns the keyring's own slice")
	}
}

func TestLoadOrCreateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.key")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("# ok\nshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.key")
	if err := os.WriteFile(huge, make([]byte, maxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"empty path", "", []string{"path is empty"}},
		{"empty file", empty, []string{empty, "no Fernet key"}},
		{"bad key", bad, []string{bad + " line 2:"}},
		{"directory", dir, []string{dir, "not a regular file"}},
		{"too large", huge, []string{huge, "larger than"}},
		{"parent is a file", filepath.Join(notDir, "fernet.key"), []string{"fernet.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, created, err := LoadOrCreate(tt.path)
			if err == nil || k != nil || created {
				t.Fatalf("LoadOrCreate = %v, %v, %v; want an error", k, created, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	// A failed load must never replace the file with a fresh key.
	if text, _ := os.ReadFile(bad); string(text) != "# ok\nshort\n" {
		t.Errorf("bad key file was rewritten: %q", text)
	}
}

// TestLoadOrCreateConcurrent starts several LoadOrCreate calls on one missing
// file at once: exactly one creates it and all end up with the same key.
func TestLoadOrCreateConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "fernet.key")
	const n = 16
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		rings   [n]*Keyring
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			rings[i], created[i], errs[i] = LoadOrCreate(path)
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if rings[i].keys[0] != rings[0].keys[0] {
			t.Errorf("goroutine %d has a different key", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d goroutines report created=true, want 1", creators)
	}
	assertNoTempFiles(t, filepath.Dir(path))
	k, err := load(path)
	if err != nil || k.keys[0] != rings[0].keys[0] {
		t.Errorf("the file holds another key than the goroutines use (%v)", err)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "fernet.key" {
			t.Errorf("left behind %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "fernet.key")); errors.Is(err, os.ErrNotExist) {
		t.Error("fernet.key missing")
	}
}
