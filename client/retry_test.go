package client

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSentAgainAfterADroppedConnection: a request whose connection is
// closed without an answer (a proxy reloading) is sent once more and
// succeeds when sending it twice is safe: a GET, or a run-now, which
// carries an Idempotency-Key (the same in both copies, so the server makes
// one run). Another POST is sent once and reports the failure, since a
// second one could do its work twice.
func TestSentAgainAfterADroppedConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(c *Client) error
		wantCalls int32
		wantErr   bool
		wantKey   bool
	}{
		{"GET is sent again", func(c *Client) error { _, err := c.GetJob(t.Context(), "nap"); return err }, 2, false, false},
		{"run-now is sent again with its key", func(c *Client) error { _, err := c.RunJob(t.Context(), "nap"); return err }, 2, false, true},
		{"run-now with params too", func(c *Client) error {
			_, err := c.RunJobWith(t.Context(), "nap", []byte(`{"a":1}`))
			return err
		}, 2, false, true},
		{"another POST is not", func(c *Client) error { _, err := c.RetryRun(t.Context(), "r1"); return err }, 1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				calls atomic.Int32
				mu    sync.Mutex
				keys  []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				if calls.Add(1) == 1 {
					// Drop the connection without an answer.
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"nap","handler":"noop"}`))
			}))
			defer srv.Close()
			c, err := New(srv.URL, "token", nil)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("%d requests reached the server, want %d", n, tt.wantCalls)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				if (k != "") != tt.wantKey || k != keys[0] {
					t.Errorf("Idempotency-Key of the requests = %q, want one key in all: %v", keys, tt.wantKey)
				}
			}
		})
	}
}
