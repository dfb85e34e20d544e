package store

import (
	"strings"

	"github.com/connecthub/connecthub"
)

// LogChunkBuilder assembles RunLogRead's answer from the pieces a log is
// stored in (one per RunLogAppend, each at the byte offset where it
// starts), so that both drivers cut and join them the same way: the
// answer holds the log's bytes from the asked offset to its end, and Next
// is the offset a follower asks for next.
type LogChunkBuilder struct {
	chunk   RunLogChunk
	offset  int64
	logSize int64
	b       strings.Builder
}

// NewLogChunk starts the answer for a run in status whose log holds
// logSize bytes, read from offset (checked with CheckLogOffset).
func NewLogChunk(status connecthub.RunStatus, logSize, offset int64) *LogChunkBuilder {
	c := &LogChunkBuilder{chunk: RunLogChunk{Status: status, Next: offset}, offset: offset, logSize: logSize}
	if logSize > offset {
		c.b.Grow(int(logSize - offset))
	}
	return c
}

// Wants reports whether the log has bytes at or after the offset, that
// is, whether the driver needs to read any piece.
func (c *LogChunkBuilder) Wants() bool { return c.logSize > c.offset }

// Add takes the piece stored at off. Pieces come in offset order; the part
// of a piece before the offset is left out, and so is a piece that ends
// before it.
func (c *LogChunkBuilder) Add(off int64, data []byte) {
	if off < c.offset {
		if off+int64(len(data)) <= c.offset {
			return
		}
		data = data[c.offset-off:]
	}
	c.b.Write(data)
}

// Chunk is the answer.
func (c *LogChunkBuilder) Chunk() RunLogChunk {
	c.chunk.Data = c.b.String()
	c.chunk.Next = c.offset + int64(len(c.chunk.Data))
	return c.chunk
}
