package pgstore

import (
	"testing"

	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/storetest"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestConformance holds the driver to the storage contract, each subtest on
// a store in a fresh schema of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	testpg.Require(t)
	storetest.Exercise(t, func(t *testing.T) store.Store { return openTest(t, Options{}) })
}

// testOptions keeps one warm connection, not defaultMinConns, in a store
// that does not ask otherwise: the package's tests open hundreds of stores,
// many at a time, and the server of `make test` serves every package.
// TestWarmConnections checks the default.
func testOptions(opts Options) Options {
	if opts.MinConns == 0 {
		opts.MinConns = 1
	}
	return opts
}

// openTest opens a store on a fresh schema (from testpg.URL), closed when
// the test ends, before the schema is dropped.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	opts = testOptions(opts)
	url := testpg.URL(t)
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
