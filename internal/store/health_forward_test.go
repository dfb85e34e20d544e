package store_test

import (
	"testing"

	"github.com/connecthub/connecthub/internal/store"
)

// TestWatchKeepsCombinedCall checks that a watched store still offers the
// combined complete-and-claim call, and says whether it pays as the store
// underneath does: the worker finds the call by a type assertion, and a
// wrapper that hid it would turn the SQLite fast path off without a word.
func TestWatchKeepsCombinedCall(t *testing.T) {
	t.Parallel()
	var plain store.Store // a Store without the optional call
	w := store.Watch(plain, store.NewHealth(nil, 0))
	cc, ok := w.(store.RunCompleteClaimer)
	if !ok {
		t.Fatal("a watched store does not offer RunCompleteAndClaim")
	}
	if cc.CompleteAndClaimPays() {
		t.Error("CompleteAndClaimPays is true over a store without the combined call")
	}
}
