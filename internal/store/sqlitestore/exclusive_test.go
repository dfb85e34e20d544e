package sqlitestore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestOpenExclusive(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	if err := s.JobCreate(t.Context(), testJob("kept")); err != nil {
		t.Fatal(err)
	}

	// An open store, like a running server, keeps everybody else out.
	if ex, err := OpenExclusive(t.Context(), path); !connecthub.IsKind(err, connecthub.KindConflict) {
		ex.Close()
		t.Fatalf("OpenExclusive while a store is open = %v, want a conflict", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ex, err := OpenExclusive(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenExclusive: %v", err)
	}
	// While it is held, nobody else can open the file.
	if other, err := Open(t.Context(), path, Options{BusyTimeout: time.Millisecond}); err == nil {
		other.Close()
		t.Error("Open succeeded while the database was held exclusively")
	}
	if err := ex.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ex.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	reopened, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open after the exclusive use: %v", err)
	}
	defer reopened.Close()
	if _, err := reopened.JobGet(t.Context(), "kept"); err != nil {
		t.Errorf("the job is gone: %v", err)
	}
}

// TestOpenExclusiveFoldsCrashedWAL copies a database and its write-ahead
// log as a crash leaves them (committed data only in the -wal file) and
// checks that OpenExclusive makes the file alone hold everything.
func TestOpenExclusiveFoldsCrashedWAL(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	if err := s.JobCreate(t.Context(), testJob("in-the-wal")); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	copyFile(t, path, crashed)
	copyFile(t, path+"-wal", crashed+"-wal")
	if info, err := os.Stat(crashed + "-wal"); err != nil || info.Size() == 0 {
		t.Fatalf("the test needs a non-empty WAL: %v", err)
	}

	ex, err := OpenExclusive(t.Context(), crashed)
	if err != nil {
		t.Fatalf("OpenExclusive: %v", err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crashed + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("the -wal file is still there (%v)", err)
	}
	// The file alone, moved away from where its WAL was, has the data.
	moved := filepath.Join(t.TempDir(), "moved.db")
	if err := os.Rename(crashed, moved); err != nil {
		t.Fatal(err)
	}
	m, err := Open(t.Context(), moved, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.JobGet(t.Context(), "in-the-wal"); err != nil {
		t.Errorf("the job committed to the WAL is lost: %v", err)
	}
}

func TestOpenExclusiveMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "none.db")
	_, err := OpenExclusive(t.Context(), path)
	if !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("OpenExclusive of a missing file = %v, want not found", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("OpenExclusive created %s", path)
	}
	if _, err := OpenExclusive(t.Context(), ""); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Errorf("OpenExclusive(\"\") = %v, want invalid", err)
	}
}
