package workerapp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/connecthub/connecthub/internal/config"
)

// TestToken: the worker token wins over the admin token, which wins over
// the admin.token file of the data directory; without any, a usage error
// that says how to get one.
func TestToken(t *testing.T) {
	t.Parallel()
	withFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withFile, "admin.token"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, worker, admin, dir, want string
	}{
		{"worker token", "w-tok", "a-tok", withFile, "w-tok"},
		{"admin token", "", "a-tok", withFile, "a-tok"},
		{"file", "", "", withFile, "from-file"},
		{"none", "", "", t.TempDir(), ""},
	} {
		cfg := &config.Config{WorkerToken: config.Secret(tc.worker), AdminToken: config.Secret(tc.admin), DataDir: tc.dir}
		got, err := Token(cfg)
		var usage *UsageError
		if tc.want == "" {
			if !errors.As(err, &usage) {
				t.Errorf("%s: %q, %v; want a usage error", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
