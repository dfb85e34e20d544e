package server_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testpg"
)

// keyNodeConfig is a node's configuration for the key check tests: a data dir of
// its own and, when dbURL is set, that database instead of SQLite in it.
func keyNodeConfig(t *testing.T, dbURL string) *config.Config {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	if dbURL != "" {
		cfg.DBURL = dbURL
	}
	cfg.Workers = 0
	return cfg
}

// keyedNodeConfig is keyNodeConfig with a key file already written, as a
// deployment from before key checks has; it returns the file's keys.
func keyedNodeConfig(t *testing.T, dbURL string) (*config.Config, *secret.Keyring) {
	t.Helper()
	cfg := keyNodeConfig(t, dbURL)
	keys, keyText := newKeys(t)
	if err := os.WriteFile(cfg.FernetKeyPath, []byte(keyText), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, keys
}

// tryStart builds a node from cfg (which checks the key file) and closes
// it again; it returns New's error.
func tryStart(t *testing.T, cfg *config.Config) error {
	t.Helper()
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: handler.NewRegistry(), LogOutput: io.Discard})
	if err != nil {
		return err
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return nil
}

// withStore opens cfg's database as a node would, calls fn, and closes it
// again, so that no store is open while a node starts on the database.
func withStore(t *testing.T, cfg *config.Config, fn func(st store.Store)) {
	t.Helper()
	st, err := server.OpenStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

// keyCheck reads the key check stored in cfg's database.
func keyCheck(t *testing.T, cfg *config.Config) string {
	t.Helper()
	var check string
	withStore(t, cfg, func(st store.Store) {
		var err error
		if check, err = st.KeyCheck(t.Context()); err != nil {
			t.Fatalf("KeyCheck: %v", err)
		}
	})
	return check
}

// storeSecretJob stores a job whose secret is encrypted with keys, without
// a node: the way a database from before key checks holds its secrets.
func storeSecretJob(t *testing.T, cfg *config.Config, keys *secret.Keyring) {
	t.Helper()
	token, err := keys.EncryptJSON(map[string]any{"password": "hunter2-hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	j := &connecthub.Job{ID: "with-secret", Handler: "noop", Queue: connecthub.DefaultQueue, Enabled: true,
		MaxAttempts: 1, Timezone: "UTC", Concurrency: connecthub.ConcurrencyForbid, Misfire: connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow, PublicCfg: []byte(`{}`),
		SecretKeys: []string{"password"}, HasSecret: true, SecretCfg: token, CreatedAt: now, UpdatedAt: now}
	withStore(t, cfg, func(st store.Store) {
		if err := st.JobCreate(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	})
}

func newKeys(t *testing.T) (*secret.Keyring, string) {
	t.Helper()
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.Parse(key, "test key")
	if err != nil {
		t.Fatal(err)
	}
	return keys, key + "\n"
}

// The ways a key file can be wrong, applied to the node's key file after a
// first start.
var keyFaults = []struct {
	name  string
	apply func(t *testing.T, path string)
}{
	{"missing", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}},
	{"replaced", func(t *testing.T, path string) {
		_, other := newKeys(t)
		if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

// requireRefused checks that err is the documented refusal and that the
// key file is exactly as the fault left it (a missing one was not created).
func requireRefused(t *testing.T, err error, path string, before []byte) {
	t.Helper()
	want := "the database was encrypted with another key; restore " + path + " from your backup (see docs/operations.md)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start = %v, want the refusal %q", err, want)
	}
	after, readErr := os.ReadFile(path)
	switch {
	case before == nil && !errors.Is(readErr, fs.ErrNotExist):
		t.Errorf("the refused start wrote a key file (%v)", readErr)
	case before != nil && !bytes.Equal(before, after):
		t.Errorf("the refused start changed the key file")
	}
}

// readIfExists returns a file's bytes, nil when it does not exist.
func readIfExists(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// exerciseKeyCheck runs the key check scenarios against the database that
// dbURL names for each (a fresh one per call; "" is SQLite in the data dir).
func exerciseKeyCheck(t *testing.T, dbURL func(t *testing.T) string) {
	for _, fault := range keyFaults {
		t.Run("after a first start, a key file "+fault.name+" is refused", func(t *testing.T) {
			t.Parallel()
			cfg := keyNodeConfig(t, dbURL(t))
			if err := tryStart(t, cfg); err != nil {
				t.Fatalf("first start: %v", err)
			}
			good := readIfExists(t, cfg.FernetKeyPath)
			if good == nil {
				t.Fatal("the first start wrote no key file")
			}
			fault.apply(t, cfg.FernetKeyPath)
			requireRefused(t, tryStart(t, cfg), cfg.FernetKeyPath, readIfExists(t, cfg.FernetKeyPath))
			// Restoring the key file from the backup is the cure.
			if err := os.WriteFile(cfg.FernetKeyPath, good, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tryStart(t, cfg); err != nil {
				t.Errorf("start with the key file restored: %v", err)
			}
		})
		t.Run("a database from before key checks with secrets, key file "+fault.name+", is refused", func(t *testing.T) {
			t.Parallel()
			cfg, keys := keyedNodeConfig(t, dbURL(t))
			storeSecretJob(t, cfg, keys)
			fault.apply(t, cfg.FernetKeyPath)
			requireRefused(t, tryStart(t, cfg), cfg.FernetKeyPath, readIfExists(t, cfg.FernetKeyPath))
			if check := keyCheck(t, cfg); check != "" {
				t.Errorf("KeyCheck after a refused start = %q, want none written", check)
			}
		})
	}
	t.Run("a database from before key checks gets one from the key that decrypts its secrets", func(t *testing.T) {
		t.Parallel()
		cfg, keys := keyedNodeConfig(t, dbURL(t))
		storeSecretJob(t, cfg, keys)
		if err := tryStart(t, cfg); err != nil {
			t.Fatalf("start with the right key: %v", err)
		}
		if err := keys.VerifyCheck(keyCheck(t, cfg)); err != nil {
			t.Errorf("the written check does not verify with the key: %v", err)
		}
	})
	t.Run("an empty database gets a check from an existing key file", func(t *testing.T) {
		t.Parallel()
		cfg, keys := keyedNodeConfig(t, dbURL(t))
		if err := tryStart(t, cfg); err != nil {
			t.Fatal(err)
		}
		if err := keys.VerifyCheck(keyCheck(t, cfg)); err != nil {
			t.Errorf("the written check does not verify with the key file's key: %v", err)
		}
	})
}

func TestKeyCheckSQLite(t *testing.T) {
	t.Parallel()
	exerciseKeyCheck(t, func(*testing.T) string { return "" })
}

func TestKeyCheckPostgres(t *testing.T) {
	t.Parallel()
	testpg.Require(t)
	exerciseKeyCheck(t, func(t *testing.T) string { return testpg.URL(t) })
}
