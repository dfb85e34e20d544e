package store

import (
	"testing"

	"github.com/connecthub/connecthub"
)

func TestLogChunkBuilder(t *testing.T) {
	t.Parallel()
	// The log "abcdefgh" stored in three pieces.
	pieces := []struct {
		off  int64
		data string
	}{{0, "abc"}, {3, "de"}, {5, "fgh"}}
	for _, tc := range []struct {
		name   string
		offset int64
		want   string
	}{
		{"FromStart", 0, "abcdefgh"},
		{"InsideFirst", 1, "bcdefgh"},
		{"OnBoundary", 3, "defgh"},
		{"InsideLast", 6, "gh"},
		{"AtEnd", 8, ""},
		{"PastEnd", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewLogChunk(connecthub.StatusRunning, 8, tc.offset)
			if c.Wants() != (tc.offset < 8) {
				t.Errorf("Wants() = %v at offset %d of 8 bytes", c.Wants(), tc.offset)
			}
			// Every piece is given, also those that end before the offset
			// (a driver may read from the log's start).
			for _, p := range pieces {
				c.Add(p.off, []byte(p.data))
			}
			got := c.Chunk()
			if got.Data != tc.want || got.Next != tc.offset+int64(len(tc.want)) || got.Status != connecthub.StatusRunning {
				t.Errorf("chunk from %d = %+v, want %q next %d", tc.offset, got, tc.want, tc.offset+int64(len(tc.want)))
			}
		})
	}
}
