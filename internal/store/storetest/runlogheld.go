package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// appendHeld appends chunk for node in attempt and returns whether it landed.
func appendHeld(t *testing.T, s store.Store, id, node string, attempt int, chunk string) bool {
	t.Helper()
	ok, err := s.RunLogAppendHeld(t.Context(), store.RunLogAppendParams{RunID: id, Node: node, Attempt: attempt, Chunk: chunk})
	if err != nil {
		t.Fatalf("RunLogAppendHeld(%s, %s, %d): %v", id, node, attempt, err)
	}
	return ok
}

func exerciseHeldLog(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"OnlyTheHolderAppends": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := reclaimedRun(t, s, j) // RUNNING on node1 in attempt 2
			done := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: done.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			tests := []struct {
				name    string
				id      string
				node    string
				attempt int
				chunk   string
				want    bool
			}{
				{"holder in its attempt", r.ID, node1, 2, "held\n", true},
				{"holder in any attempt", r.ID, node1, 0, "any\n", true},
				{"stale attempt", r.ID, node1, 1, "stale\n", false},
				{"other node", r.ID, node2, 2, "foreign\n", false},
				{"other node any attempt", r.ID, node2, 0, "foreign any\n", false},
				{"finished run", done.ID, node1, 0, "late\n", false},
				{"missing run", ulid.Make().String(), node1, 0, "nowhere\n", false},
				{"empty chunk", r.ID, node1, 2, "", false},
			}
			want := map[string]string{}
			for _, tc := range tests {
				if got := appendHeld(t, s, tc.id, tc.node, tc.attempt, tc.chunk); got != tc.want {
					t.Errorf("%s: appended = %v, want %v", tc.name, got, tc.want)
				}
				if tc.want {
					want[tc.id] += tc.chunk
				}
			}
			for _, id := range []string{r.ID, done.ID} {
				c := readLog(t, s, id, 0)
				if string(c.Data) != want[id] || c.Next != int64(len(want[id])) {
					t.Errorf("log of %s = %q (next %d), want %q", id, c.Data, c.Next, want[id])
				}
			}
			if got := getRun(t, s, r.ID).LogSize; got != int64(len(want[r.ID])) {
				t.Errorf("log_size = %d, want %d", got, len(want[r.ID]))
			}
		},
		"HeldPart": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := reclaimedRun(t, s, j) // RUNNING on node1 in attempt 2
			ctx := t.Context()
			set := func(node string, attempt int, chunk, held string) bool {
				t.Helper()
				ok, err := s.RunLogAppendHeld(ctx, store.RunLogAppendParams{RunID: r.ID, Node: node, Attempt: attempt, Chunk: chunk, Held: &held})
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			get := func(attempt int) string {
				t.Helper()
				tok, err := s.RunLogHeldGet(ctx, r.ID, attempt)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			if got := get(2); got != "" {
				t.Fatalf("held part before any = %q", got)
			}
			if !set(node1, 2, "", "tok-1") || get(2) != "tok-1" {
				t.Fatalf("a held part alone was not kept: %q", get(2))
			}
			if !set(node1, 2, "line\n", "tok-2") || get(2) != "tok-2" || string(readLog(t, s, r.ID, 0).Data) != "line\n" {
				t.Fatalf("a chunk with a held part: held %q, log %q", get(2), readLog(t, s, r.ID, 0).Data)
			}
			if get(1) != "" {
				t.Error("the held part of attempt 2 was returned for attempt 1")
			}
			// A held part is a secret token like any other: key rotation
			// walks and rewrites it.
			if !slices.Contains(walkSecrets(t, s), storedSecret{store.SecretKindRunLogHeld, r.ID, "tok-2"}) {
				t.Errorf("SecretTokens does not report the held part: %v", walkSecrets(t, s))
			}
			if set(node1, 1, "stale\n", "tok-stale") || set(node2, 2, "", "tok-foreign") || get(2) != "tok-2" {
				t.Errorf("a stale attempt or another node changed the held part: %q", get(2))
			}
			if !set(node1, 2, "", "") || get(2) != "" {
				t.Errorf("the held part was not cleared: %q", get(2))
			}
			if got := string(readLog(t, s, r.ID, 0).Data); got != "line\n" {
				t.Errorf("log = %q, want only the holder's chunk", got)
			}
			if tok, err := s.RunLogHeldGet(ctx, ulid.Make().String(), 1); err != nil || tok != "" {
				t.Errorf("held part of a missing run = %q, %v", tok, err)
			}
		},
		"Invalid": func(t *testing.T, s store.Store) {
			for name, p := range map[string]store.RunLogAppendParams{
				"no run":           {Node: node1, Chunk: "x"},
				"no node":          {RunID: "r", Chunk: "x"},
				"negative attempt": {RunID: "r", Node: node1, Attempt: -1, Chunk: "x"},
				"huge attempt":     {RunID: "r", Node: node1, Attempt: 1 << 31, Chunk: "x"},
				"held, no attempt": {RunID: "r", Node: node1, Chunk: "x", Held: new(string)},
			} {
				ok, err := s.RunLogAppendHeld(t.Context(), p)
				if ok {
					t.Errorf("%s: appended", name)
				}
				requireKind(t, err, connecthub.KindInvalid)
			}
		},
		"RescueRacesAppends": func(t *testing.T, s store.Store) {
			// Appends of attempt 1 race its rescue and re-claim: every
			// append that reports success is in the log whole, none that
			// reports failure is, and nothing of attempt 1 follows the
			// first line of attempt 2.
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := runningRun(t, s, j, node1, t0)
			const writers, each = 4, 15
			var mu sync.Mutex
			var landed []string
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range writers {
				wg.Go(func() {
					<-start
					for i := range each {
						chunk := fmt.Sprintf("a1 w%d i%02d\n", w, i)
						ok, err := s.RunLogAppendHeld(t.Context(), store.RunLogAppendParams{RunID: r.ID, Node: node1, Attempt: 1, Chunk: chunk})
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							mu.Lock()
							landed = append(landed, chunk)
							mu.Unlock()
						}
					}
				})
			}
			close(start)
			// A rescue skips a run whose row an append holds locked at that
			// moment (a driver may lock with SKIP LOCKED, as a second
			// rescuer would), so it is repeated until it takes the run.
			rescueAt := t0.Add(time.Hour)
			for rescued := false; !rescued; {
				got, err := s.RunRescue(t.Context(), rescueAt, 1000)
				if err != nil {
					t.Fatal(err)
				}
				rescued = slices.ContainsFunc(got, func(x *connecthub.Run) bool { return x.ID == r.ID })
			}
			// The claim skips a locked row for the same reason.
			var again []*connecthub.Run
			for len(again) == 0 {
				again = claim(t, s, store.RunClaimParams{Node: node1, Queues: []string{r.Queue}, Max: 1, Now: rescueAt})
			}
			if len(again) != 1 || again[0].Attempt != 2 {
				t.Fatalf("re-claim = %+v, want attempt 2", again)
			}
			if !appendHeld(t, s, r.ID, node1, 2, "a2 first\n") {
				t.Fatal("the new attempt's append was refused")
			}
			wg.Wait()
			log := string(readLog(t, s, r.ID, 0).Data)
			lines := strings.SplitAfter(log, "\n")
			lines = lines[:len(lines)-1] // the empty tail after the last newline
			if i := slices.Index(lines, "a2 first\n"); i != len(lines)-1 {
				t.Errorf("log = %q: attempt 1 wrote after attempt 2 began", log)
			}
			got := slices.Sorted(slices.Values(lines[:len(lines)-1]))
			if slices.Sort(landed); !slices.Equal(got, landed) {
				t.Errorf("log holds %d lines of attempt 1, the store reported %d appended:\n%q\nvs\n%q", len(got), len(landed), got, landed)
			}
		},
	})
}
