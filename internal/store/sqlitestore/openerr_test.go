package sqlitestore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// TestOpenErrorNamesCause: a database that cannot be opened is reported
// with the cause underneath, not only "cannot open".
func TestOpenErrorNamesCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		asRoot   bool // false: root can open anything, so the row means nothing
		setup    func(t *testing.T, path string)
		wantTail string
	}{
		{"corrupt file", true, func(t *testing.T, path string) {
			junk := strings.Repeat("this is not a database; ", 50)
			if err := os.WriteFile(path, []byte(junk), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "file is not a database"},
		{"directory", true, func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "it is a directory"},
		{"permission denied", false, func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o400); err != nil {
				t.Fatal(err)
			}
		}, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !tt.asRoot && os.Geteuid() == 0 {
				t.Skip("root opens a file whatever its mode")
			}
			path := filepath.Join(t.TempDir(), "connecthub.db")
			tt.setup(t, path)
			st, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded")
			}
			want := "cannot open SQLite database " + path + ": " + tt.wantTail
			if err.Error() != want {
				t.Errorf("Open = %q, want %q", err, want)
			}
			if connecthub.ErrorKind(err) != connecthub.KindUnavailable {
				t.Errorf("Open error kind = %v, want unavailable", connecthub.ErrorKind(err))
			}
		})
	}
}
