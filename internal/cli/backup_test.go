package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testpg"
)

// thePassword is the secret the tests store; secretChecker succeeds only
// when its run decrypted it.
const thePassword = "hunter2-correct-horse"

var secretChecker = handler.Spec{
	Name:       "test.secret",
	SecretKeys: []string{"password"},
	Func: func(_ context.Context, t *handler.Task) (*handler.Result, error) {
		if t.Secret("password") != thePassword {
			return nil, errors.New("the run did not get the stored password")
		}
		return &handler.Result{Message: "secret ok"}, nil
	},
}

func newKey(t *testing.T) string {
	t.Helper()
	k, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyring(t *testing.T, keys ...string) *secret.Keyring {
	t.Helper()
	k, err := secret.Parse(strings.Join(keys, "\n"), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKeyFile writes a key file with keys, first key first.
func writeKeyFile(t *testing.T, path string, keys ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openDataDir opens (creating) the SQLite database of a data directory
// directly, as a server would, and closes it when the test ends.
func openDataDir(t *testing.T, dir string) *sqlitestore.Store {
	t.Helper()
	return openSQLiteFile(t, filepath.Join(dir, "connecthub.db"))
}

func openSQLiteFile(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// seedJob stores a job of secretChecker whose secret is encrypted with
// enc, and runs QUEUED runs of it, which copy the token into their
// snapshots.
func seedJob(t *testing.T, st store.Store, enc *secret.Keyring, id string, runs int) []*connecthub.Run {
	t.Helper()
	token, err := enc.EncryptJSON(map[string]any{"password": thePassword})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	j := &connecthub.Job{
		ID: id, Enabled: true, Timezone: "UTC", Handler: secretChecker.Name, PublicCfg: json.RawMessage(`{}`),
		SecretCfg: token, SecretKeys: []string{"password"}, HasSecret: true,
		MaxAttempts: 1, Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		Queue: connecthub.DefaultQueue, CreatedAt: now, UpdatedAt: now,
	}
	if err := st.JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	var out []*connecthub.Run
	for range runs {
		out = append(out, connecthub.NewRun(j, connecthub.TriggerManual, now, now, "test"))
	}
	if len(out) > 0 {
		if err := st.RunInsert(t.Context(), out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// storedTokens returns every stored token by "kind id".
func storedTokens(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	if err := st.SecretTokens(t.Context(), func(kind, id, token string) error {
		tokens[kind+" "+id] = token
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return tokens
}

// readArchive returns the entries of a .tar.gz in order, failing on a
// damaged one.
func readArchive(t *testing.T, path string) (names []string, files map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files = map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		files[hdr.Name] = data
	}
}

// writeArchive writes entries (name, data pairs) as a .tar.gz.
func writeArchive(t *testing.T, path string, entries ...string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(entries); i += 2 {
		data := []byte(entries[i+1])
		if err := tw.WriteHeader(&tar.Header{Name: entries[i], Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

// baks lists the .bak files in dir.
func baks(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.bak"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBackupRestoreRoundTrip backs up a running server's data directory,
// restores it into a fresh one and starts a server there: jobs, runs and
// secrets (the job's and the runs' snapshots) work as before.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	dirA := t.TempDir()
	a := startServer(t, dirA, nil, secretChecker)
	a.createJob(`{"id":"sync","handler":"test.secret","secret_cfg":{"password":"` + thePassword + `"}}`)
	first := a.waitStatus(a.runNow("sync").ID, connecthub.StatusSuccess)

	out := filepath.Join(t.TempDir(), "backup.tar.gz")
	envA := map[string]string{"CONNECTHUB_DATA_DIR": dirA}
	code, stdout, stderr := runCLI(t, envA, "", "backup", "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 job, 1 run, 3 secrets") || !strings.Contains(stderr, "contains the Fernet key") {
		t.Errorf("backup output:\n%s\nstderr:\n%s", stdout, stderr)
	}
	checkMode(t, out, 0o600)
	names, files := readArchive(t, out)
	if strings.Join(names, " ") != "manifest.json fernet.key connecthub.db" {
		t.Errorf("archive entries = %v", names)
	}
	if !bytes.Equal(files["fernet.key"], mustRead(t, filepath.Join(dirA, "fernet.key"))) {
		t.Error("the archive's key file differs from the data directory's")
	}
	var man struct {
		Format     int
		Version    string
		CreatedAt  time.Time `json:"created_at"`
		Driver     string
		Jobs, Runs int
	}
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil || man.Format != 1 || man.Driver != "sqlite" ||
		man.Jobs != 1 || man.Runs != 1 || man.Version != connecthub.Version || time.Since(man.CreatedAt) > time.Hour {
		t.Errorf("manifest %s: %v", files["manifest.json"], err)
	}

	// Never overwritten by accident; --force replaces it.
	before := mustRead(t, out)
	code, _, stderr = runCLI(t, envA, "", "backup", "--out", out)
	if code != 1 || !strings.Contains(stderr, "already exists") || !bytes.Equal(before, mustRead(t, out)) {
		t.Errorf("backup onto an existing file: exit %d, %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, envA, "", "backup", "--out", out, "--force"); code != 0 {
		t.Fatalf("backup --force: exit %d %s", code, stderr)
	}
	checkMode(t, out, 0o600)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) != 0 {
		t.Errorf("backup left temporary files: %v", left)
	}
	a.createJob(`{"id":"after-the-backup","handler":"noop"}`)

	dirB := t.TempDir()
	envB := map[string]string{"CONNECTHUB_DATA_DIR": dirB}
	code, stdout, stderr = runCLI(t, envB, "", "restore", "--in", out)
	if code != 0 || !strings.Contains(stdout, "1 job, 1 run, 3 secrets, all decrypted") {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dirB, "fernet.key")), mustRead(t, filepath.Join(dirA, "fernet.key"))) {
		t.Error("the restored key file differs")
	}
	// The database carries its key check, which the restored key passes.
	restored := openDataDir(t, dirB)
	check, err := restored.KeyCheck(t.Context())
	if closeErr := restored.Close(); closeErr != nil {
		t.Fatal(closeErr)
	}
	if err != nil || check == "" {
		t.Errorf("restored key check = %q, %v; want the one the first start wrote", check, err)
	} else if err := keyring(t, strings.TrimSpace(string(files["fernet.key"]))).VerifyCheck(check); err != nil {
		t.Errorf("the restored key check does not verify with the archive's key: %v", err)
	}
	checkMode(t, filepath.Join(dirB, "fernet.key"), 0o600)

	b := startServer(t, dirB, nil, secretChecker)
	j, err := b.client.GetJob(t.Context(), "sync")
	if err != nil || !j.HasSecret {
		t.Fatalf("restored job: %+v, %v", j, err)
	}
	var apiErr *client.APIError
	if _, err := b.client.GetJob(t.Context(), "after-the-backup"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("a job created after the backup was restored: %v", err)
	}
	if r, err := b.client.GetRun(t.Context(), first.ID); err != nil || r.Status != connecthub.StatusSuccess {
		t.Errorf("restored run: %+v, %v", r, err)
	}
	// The run's snapshot secret and the job's secret both decrypt.
	retry, err := b.client.RetryRun(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.waitStatus(retry.ID, connecthub.StatusSuccess)
	b.waitStatus(b.runNow("sync").ID, connecthub.StatusSuccess)

	// Not while a server has the database open, not even with --force.
	dbB := filepath.Join(dirB, "connecthub.db")
	code, _, stderr = runCLI(t, envB, "", "restore", "--in", out, "--force")
	if code != 1 || !strings.Contains(stderr, "in use") {
		t.Errorf("restore under a running server: exit %d, %s", code, stderr)
	}
	if got := baks(t, dirB); len(got) != 0 {
		t.Errorf("a refused restore left %v", got)
	}
	if code := b.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// An existing database is replaced only with --force, and kept.
	code, _, stderr = runCLI(t, envB, "", "restore", "--in", out)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("restore onto a database: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr = runCLI(t, envB, "", "restore", "--in", out, "--force"); code != 0 {
		t.Fatalf("restore --force: exit %d %s", code, stderr)
	}
	bak := baks(t, dirB)
	if len(bak) != 1 || !strings.HasPrefix(filepath.Base(bak[0]), "connecthub.db.") || !strings.Contains(stdout, bak[0]) {
		t.Fatalf("the replaced database was not kept as .bak: %v\n%s", bak, stdout)
	}
	// The .bak is the database as server b left it, whole without its WAL:
	// with the two runs b made, which the restored one lacks.
	for file, want := range map[string]int{bak[0]: 3, dbB: 1} {
		runs, _, err := openSQLiteFile(t, file).RunList(t.Context(), store.RunListParams{JobID: "sync"})
		if err != nil || len(runs) != want {
			t.Errorf("%s has %d runs (%v), want %d", file, len(runs), err, want)
		}
	}
	// The key file was the same, so it is left alone rather than backed up.
	if strings.Contains(stdout, "key file kept") {
		t.Errorf("an identical key file was replaced:\n%s", stdout)
	}
}

// backupOf makes a data directory with one job of secretChecker (its
// secret encrypted with the directory's key) and two runs, and returns the
// directory, its key and an archive of it.
func backupOf(t *testing.T) (dir, key, archive string) {
	t.Helper()
	dir = t.TempDir()
	key = newKey(t)
	writeKeyFile(t, filepath.Join(dir, "fernet.key"), key)
	st := openDataDir(t, dir)
	seedJob(t, st, keyring(t, key), "sync", 2)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(t.TempDir(), "backup.tar.gz")
	if code, _, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": dir}, "", "backup", "--out", archive); code != 0 {
		t.Fatalf("backup: exit %d %s", code, stderr)
	}
	return dir, key, archive
}

// TestRestoreRefusesWrongKey: an archive whose key does not decrypt its
// secrets is refused before anything is touched.
func TestRestoreRefusesWrongKey(t *testing.T) {
	t.Parallel()
	dir, _, archive := backupOf(t)
	names, files := readArchive(t, archive)
	wrong := filepath.Join(t.TempDir(), "wrong-key.tar.gz")
	var entries []string
	for _, n := range names {
		data := string(files[n])
		if n == "fernet.key" {
			data = newKey(t) + "\n"
		}
		entries = append(entries, n, data)
	}
	writeArchive(t, wrong, entries...)
	token := storedTokens(t, openDataDir(t, dir))["job sync"]

	t.Run("FreshDataDir", func(t *testing.T) {
		t.Parallel()
		fresh := t.TempDir()
		code, _, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": fresh}, "", "restore", "--in", wrong)
		if code != 1 || !strings.Contains(stderr, "cannot be decrypted") || !strings.Contains(stderr, "job sync") ||
			!strings.Contains(stderr, "nothing was changed") || strings.Contains(stderr, token) {
			t.Errorf("restore with a wrong key: exit %d, %s", code, stderr)
		}
		if left, _ := os.ReadDir(fresh); len(left) != 0 {
			t.Errorf("a refused restore left files in the data directory: %v", left)
		}
	})
	t.Run("Forced", func(t *testing.T) {
		t.Parallel()
		target, _, _ := backupOf(t)
		db, key := mustRead(t, filepath.Join(target, "connecthub.db")), mustRead(t, filepath.Join(target, "fernet.key"))
		code, _, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": target}, "", "restore", "--in", wrong, "--force")
		if code != 1 || !strings.Contains(stderr, "cannot be decrypted") {
			t.Errorf("restore --force with a wrong key: exit %d, %s", code, stderr)
		}
		if !bytes.Equal(db, mustRead(t, filepath.Join(target, "connecthub.db"))) ||
			!bytes.Equal(key, mustRead(t, filepath.Join(target, "fernet.key"))) || len(baks(t, target)) != 0 {
			t.Error("a refused restore changed the data directory")
		}
	})
}

// TestRestoreReplacesDifferentKey: with --force, a different key file is
// replaced and kept as .bak; without, it is refused.
func TestRestoreReplacesDifferentKey(t *testing.T) {
	t.Parallel()
	_, key, archive := backupOf(t)
	dir := t.TempDir()
	other := newKey(t)
	writeKeyFile(t, filepath.Join(dir, "fernet.key"), other)
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir}
	code, _, stderr := runCLI(t, env, "", "restore", "--in", archive)
	if code != 1 || !strings.Contains(stderr, "other keys") {
		t.Errorf("restore over a different key file: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "connecthub.db")); !os.IsNotExist(err) {
		t.Errorf("a refused restore wrote the database: %v", err)
	}
	code, stdout, stderr := runCLI(t, env, "", "restore", "--in", archive, "--force")
	if code != 0 {
		t.Fatalf("restore --force: exit %d %s", code, stderr)
	}
	if got := string(mustRead(t, filepath.Join(dir, "fernet.key"))); !strings.Contains(got, key) {
		t.Error("the archive's key was not installed")
	}
	bak := baks(t, dir)
	if len(bak) != 1 || !strings.Contains(string(mustRead(t, bak[0])), other) || !strings.Contains(stdout, bak[0]) {
		t.Errorf("the previous key file was not kept: %v\n%s", bak, stdout)
	}
	checkMode(t, filepath.Join(dir, "fernet.key"), 0o600)
}

func TestBackupRestoreBadInput(t *testing.T) {
	t.Parallel()
	_, _, archive := backupOf(t)
	_, files := readArchive(t, archive)
	tmp := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole := mustRead(t, archive)
	truncated := write("truncated.tar.gz", string(whole[:len(whole)/2]))
	notGzip := write("notes.txt", "just text")
	extra := filepath.Join(tmp, "extra.tar.gz")
	writeArchive(t, extra, "manifest.json", string(files["manifest.json"]), "fernet.key", string(files["fernet.key"]), "../../etc/passwd", "x")
	noKey := filepath.Join(tmp, "nokey.tar.gz")
	writeArchive(t, noKey, "manifest.json", string(files["manifest.json"]), "connecthub.db", string(files["connecthub.db"]))
	newer := filepath.Join(tmp, "newer.tar.gz")
	writeArchive(t, newer, "manifest.json", `{"format":2,"version":"v9.0.0","driver":"sqlite"}`, "fernet.key", string(files["fernet.key"]))

	noDB := t.TempDir() // a key file but no database
	writeKeyFile(t, filepath.Join(noDB, "fernet.key"), newKey(t))
	noKeyDir := t.TempDir() // a database but no key file
	openDataDir(t, noKeyDir).Close()
	aDir := filepath.Join(tmp, "a-directory")
	if err := os.Mkdir(aDir, 0o700); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, dir string
		args      []string
		code      int
		want      string
	}{
		{"backup without --out", noDB, []string{"backup"}, 2, "out"},
		{"backup without a database", noDB, []string{"backup", "--out", filepath.Join(tmp, "b1.tar.gz")}, 1, "no database"},
		{"backup without a key file", noKeyDir, []string{"backup", "--out", filepath.Join(tmp, "b2.tar.gz")}, 1, "does not exist"},
		{"backup onto a directory", noKeyDir, []string{"backup", "--out", aDir, "--force"}, 1, "is a directory"},
		{"restore without --in", t.TempDir(), []string{"restore"}, 2, "in"},
		{"restore a missing file", t.TempDir(), []string{"restore", "--in", filepath.Join(tmp, "none.tar.gz")}, 1, "no such file"},
		{"restore a truncated archive", t.TempDir(), []string{"restore", "--in", truncated}, 1, "damaged"},
		{"restore a text file", t.TempDir(), []string{"restore", "--in", notGzip}, 1, "not a ConnectHub backup"},
		{"restore an unexpected entry", t.TempDir(), []string{"restore", "--in", extra}, 1, "unexpected entry"},
		{"restore without a key", t.TempDir(), []string{"restore", "--in", noKey}, 1, "no fernet.key"},
		{"restore a newer format", t.TempDir(), []string{"restore", "--in", newer}, 1, "newer ConnectHub"},
	} {
		code, _, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": tc.dir}, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q, one line)", tc.name, code, tc.code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(noDB, "connecthub.db")); !os.IsNotExist(err) {
		t.Errorf("backup created a database where there was none: %v", err)
	}
	if _, err := os.Stat(filepath.Join(noKeyDir, "fernet.key")); !os.IsNotExist(err) {
		t.Errorf("backup created a key file: %v", err)
	}
}

// TestSecretsRotate rotates tokens made with an old key to the new first
// key; afterwards the new key alone decrypts them, and a server with only
// that key runs the job and the runs made before the rotation.
func TestSecretsRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey, newKeyText := newKey(t), newKey(t)
	keyPath := filepath.Join(dir, "fernet.key")
	writeKeyFile(t, keyPath, oldKey)
	st := openDataDir(t, dir)
	seedJob(t, st, keyring(t, oldKey), "sync", 2)
	seedJob(t, st, keyring(t, oldKey), "other", 0)
	before := storedTokens(t, st)
	if len(before) != 6 { // each job's, its runs', and its revision's
		t.Fatalf("seeded tokens: %v", before)
	}
	// The key check the first start wrote with the old key.
	oldCheck, err := keyring(t, oldKey).NewCheck()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.KeyCheckSet(t.Context(), oldCheck); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir}

	writeKeyFile(t, keyPath, newKeyText, oldKey) // step 2 of the procedure
	code, stdout, stderr := runCLI(t, env, "", "secrets", "rotate", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "6 of 2 job secrets, 2 run secrets and 2 revision secrets, and the key check would be re-encrypted") {
		t.Fatalf("rotate --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := storedTokens(t, st); !maps.Equal(got, before) {
		t.Fatal("a dry run changed tokens")
	}
	if check, err := st.KeyCheck(t.Context()); err != nil || check != oldCheck {
		t.Fatalf("a dry run changed the key check: %v", err)
	}
	code, stdout, stderr = runCLI(t, env, "", "secrets", "rotate")
	if code != 0 || !strings.Contains(stdout, "re-encrypted 2 job secrets and 2 run secrets, and the key check") {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	after := storedTokens(t, st)
	onlyNew := keyring(t, newKeyText)
	for where, token := range after {
		if token == before[where] {
			t.Errorf("%s was not rewritten", where)
		}
		got, err := onlyNew.DecryptJSON(token)
		if err != nil || got["password"] != thePassword {
			t.Errorf("%s does not decrypt with the new key alone: %v %v", where, got, err)
		}
	}
	check, err := st.KeyCheck(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := onlyNew.VerifyCheck(check); err != nil {
		t.Errorf("the key check does not verify with the new key alone: %v", err)
	}
	code, stdout, _ = runCLI(t, env, "", "secrets", "rotate")
	if code != 0 || !strings.Contains(stdout, "nothing to rotate") {
		t.Errorf("second rotate: exit %d\n%s", code, stdout)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Step 5: the old key goes; the server decrypts everything anyway,
	// including the QUEUED runs made (and snapshotted) before the rotation.
	writeKeyFile(t, keyPath, newKeyText)
	s := startServer(t, dir, nil, secretChecker)
	for where := range after {
		if id, ok := strings.CutPrefix(where, "run "); ok {
			s.waitStatus(id, connecthub.StatusSuccess)
		}
	}
	s.waitStatus(s.runNow("other").ID, connecthub.StatusSuccess)
}

// TestSecretsRotateRefusesUndecryptable: one token no key decrypts stops
// the rotation before anything is written, and the error names its job or
// run, never the token.
func TestSecretsRotateRefusesUndecryptable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey, newKeyText, lostKey := newKey(t), newKey(t), newKey(t)
	writeKeyFile(t, filepath.Join(dir, "fernet.key"), newKeyText, oldKey)
	st := openDataDir(t, dir)
	seedJob(t, st, keyring(t, oldKey), "good", 1)
	seedJob(t, st, keyring(t, lostKey), "lost", 0)
	// A run whose snapshot was made with the lost key, of a job since
	// re-entered with the old one.
	bad := seedJob(t, st, keyring(t, lostKey), "reentered", 1)[0]
	if _, err := st.JobUpdate(t.Context(), "reentered", func(j *connecthub.Job) error {
		var err error
		j.SecretCfg, err = keyring(t, oldKey).EncryptJSON(map[string]any{"password": thePassword})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := storedTokens(t, st)
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir}
	for _, args := range [][]string{{"secrets", "rotate"}, {"secrets", "rotate", "--dry-run"}} {
		code, _, stderr := runCLI(t, env, "", args...)
		if code != 1 || !strings.Contains(stderr, "job lost") || !strings.Contains(stderr, "run "+bad.ID) ||
			!strings.Contains(stderr, "revision lost/1") || !strings.Contains(stderr, "4 secrets") || !strings.Contains(stderr, "nothing was changed") {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
		for where, token := range before {
			if strings.Contains(stderr, token) {
				t.Errorf("%v: the error shows the token of %s", args, where)
			}
		}
	}
	if got := storedTokens(t, st); !maps.Equal(got, before) {
		t.Error("a refused rotation changed tokens")
	}
}

// TestSecretsRotatePostgres rotates against PostgreSQL.
func TestSecretsRotatePostgres(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	st, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	oldKey, newKeyText := newKey(t), newKey(t)
	seedJob(t, st, keyring(t, oldKey), "sync", 3)
	writeKeyFile(t, filepath.Join(dir, "fernet.key"), newKeyText, oldKey)
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir, "CONNECTHUB_DB_URL": url}
	code, stdout, stderr := runCLI(t, env, "", "secrets", "rotate")
	if code != 0 || !strings.Contains(stdout, "re-encrypted 1 job secret and 3 run secrets") {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	onlyNew := keyring(t, newKeyText)
	for where, token := range storedTokens(t, st) {
		if _, err := onlyNew.Decrypt(token); err != nil {
			t.Errorf("%s does not decrypt with the new key alone: %v", where, err)
		}
	}
}

// TestBackupRestorePostgres: the database is pg_dump's job; the command
// says how without showing the password, and archives the key file.
func TestBackupRestorePostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	writeKeyFile(t, filepath.Join(dir, "fernet.key"), key)
	const password = "s3cret-pa55"
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir,
		"CONNECTHUB_DB_URL": "postgres://alice:" + password + "@db.example:6543/hub?sslmode=require&search_path=connecthub"}
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	code, stdout, stderr := runCLI(t, env, "", "backup", "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"PGSSLMODE=require pg_dump --format=custom", "--host=db.example", "--port=6543",
		"--username=alice", "--dbname=hub", "--schema=connecthub"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("backup guidance lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("backup printed the password:\n%s%s", stdout, stderr)
	}
	checkMode(t, out, 0o600)
	names, files := readArchive(t, out)
	if strings.Join(names, " ") != "manifest.json fernet.key" || !strings.Contains(string(files["fernet.key"]), key) ||
		!strings.Contains(string(files["manifest.json"]), `"driver": "postgres"`) {
		t.Errorf("archive: %v %s", names, files["manifest.json"])
	}

	code, stdout, stderr = runCLI(t, env, "", "restore", "--in", out)
	if code != 0 || !strings.Contains(stdout, "pg_restore --clean --if-exists --no-owner --host=db.example") ||
		!strings.Contains(stdout, "secrets rotate --dry-run") || strings.Contains(stdout+stderr, password) {
		t.Errorf("restore guidance: exit %d\n%s%s", code, stdout, stderr)
	}
	// A key-only archive cannot be restored into SQLite.
	code, _, stderr = runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": t.TempDir()}, "", "restore", "--in", out)
	if code != 1 || !strings.Contains(stderr, "only the key file") {
		t.Errorf("restore of a key-only archive into SQLite: exit %d, %s", code, stderr)
	}
}
