package runlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// errDiskFull is a storage error as the store returns it: a safe message
// for users, the driver's detail (here holding a secret) in Err.
var errDiskFull = &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "storage_error",
	Message: "the database cannot be written (disk full)", Err: errors.New("SQLITE_FULL while writing hunter2-secret")}

// TestIncompleteLog checks that a log some of whose lines could not be
// stored is never silently cut: it ends with the incomplete marker when
// the Sink takes it, the run message says so in any case, the lines
// stored before and after the failure are kept in order, and the reason
// holds no secret.
func TestIncompleteLog(t *testing.T) {
	t.Parallel()
	const diskFullReason = "the database cannot be written (disk full)"
	tests := []struct {
		name string
		// fail decides each call; the lines logged are "first", then
		// "second" (after the first was stored), then "third" at Close.
		fail       func(chunk string) error
		wantLog    string
		wantReason string
	}{
		{
			name:       "final flush fails, marker stored",
			fail:       failContaining("third", errDiskFull),
			wantLog:    header + "first\n" + header + "second\n" + "[LOG INCOMPLETE: " + diskFullReason + "]\n",
			wantReason: diskFullReason,
		},
		{
			name:       "a chunk dropped mid-way, later chunks kept",
			fail:       failContaining("second", fmt.Errorf("%w: %w", ErrDropped, errDiskFull)),
			wantLog:    header + "first\n" + header + "third\n" + "[LOG INCOMPLETE: " + diskFullReason + "]\n",
			wantReason: diskFullReason,
		},
		{
			name: "marker refused too, message still says it",
			fail: func(chunk string) error {
				if strings.Contains(chunk, "third") || strings.Contains(chunk, IncompleteMarker) {
					return errDiskFull
				}
				return nil
			},
			wantLog:    header + "first\n" + header + "second\n",
			wantReason: diskFullReason,
		},
		{
			name: "an error that is not safe to show gives a generic reason",
			fail: failContaining("third", errors.New("dial tcp 10.0.0.7:5432: password=hunter2-secret")),
			wantLog: header + "first\n" + header + "second\n" +
				"[LOG INCOMPLETE: the log could not be stored]\n",
			wantReason: "the log could not be stored",
		},
		{
			name:    "a transient failure that a retry repaired is not reported",
			fail:    failOnce("second", errDiskFull),
			wantLog: header + "first\n" + header + "second\n" + header + "third\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := newTestSink()
			sink.fail = tt.fail
			c, _ := newCapture(t, Config{FlushInterval: time.Millisecond, Sink: sink, Secrets: []string{"hunter2-secret"}})
			c.finalTimeout = time.Second
			c.Logger().Info("first")
			sink.waitFor(t, "the first line stored", func(s *testSink) bool { return len(s.chunks) == 1 })
			c.Logger().Info("second")
			sink.waitFor(t, "the second line sent", func(s *testSink) bool {
				return strings.Contains(s.lastCall, "second") && (len(s.chunks) == 2 || tt.wantReason != "")
			})
			c.Logger().Info("third")
			_ = c.Close(context.Background())
			if got := sink.stored(); got != tt.wantLog {
				t.Errorf("log = %q\nwant  %q", got, tt.wantLog)
			}
			if got := c.Incomplete(); got != tt.wantReason {
				t.Errorf("Incomplete() = %q, want %q", got, tt.wantReason)
			}
			msg := c.Message("done")
			want := "done"
			if tt.wantReason != "" {
				want = "done; log incomplete: " + tt.wantReason
			}
			if msg != want {
				t.Errorf("Message = %q, want %q", msg, want)
			}
			if strings.Contains(sink.stored()+msg, "hunter2") {
				t.Errorf("a secret reached the log or the message: %q / %q", sink.stored(), msg)
			}
		})
	}
}

// failContaining fails every call whose chunk contains s.
func failContaining(s string, err error) func(string) error {
	return func(chunk string) error {
		if strings.Contains(chunk, s) {
			return err
		}
		return nil
	}
}

// failOnce fails the first call whose chunk contains s.
func failOnce(s string, err error) func(string) error {
	failed := false
	return func(chunk string) error {
		if !failed && strings.Contains(chunk, s) {
			failed = true
			return err
		}
		return nil
	}
}
