package client

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestGetSentAgainAfterADroppedConnection: a GET whose connection is
// closed without an answer (a proxy reloading) is sent once more and
// succeeds; a POST is sent once and reports the failure, since a second
// one could do its work twice.
func TestGetSentAgainAfterADroppedConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(c *Client) error
		wantCalls int32
		wantErr   bool
	}{
		{"GET is sent again", func(c *Client) error { _, err := c.GetJob(t.Context(), "nap"); return err }, 2, false},
		{"POST is not", func(c *Client) error { _, err := c.RunJob(t.Context(), "nap"); return err }, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		})
	}
}
