package runlog

import (
	"context"
	"errors"
	"strings"

	"github.com/connecthub/connecthub"
)

// IncompleteMarker begins the line that ends a run log some of whose lines
// could not be stored; the reason and a closing bracket follow it.
const IncompleteMarker = "[LOG INCOMPLETE: "

// maxReasonRunes caps the reason of an incomplete log, so that the marker
// stays one short line.
const maxReasonRunes = 200

// ErrDropped marks a Sink error after which the chunk is gone for good (the
// receiver refused it): the Capture does not send it again, and the log is
// reported incomplete. Wrap it with the reason, e.g.
// fmt.Errorf("%w: %w", runlog.ErrDropped, err).
var ErrDropped = errors.New("runlog: the log chunk was dropped")

// appendIncomplete ends the stored log with the incomplete marker, so that a
// reader sees where and why it stops. It is tried once, under a timeout of
// its own: the Sink has just been failing, and the run must still be
// recorded. When it fails too, the run's message is all that says so.
func (c *Capture) appendIncomplete(ctx context.Context, reason string, endsInNL bool) {
	if c.cfg.Sink == nil {
		return
	}
	line := IncompleteMarker + reason + "]\n"
	if !endsInNL {
		line = "\n" + line
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.finalTimeout)
	defer cancel()
	_ = c.cfg.Sink.AppendLog(mctx, c.cfg.RunID, line)
}

// Incomplete returns why some of the log could not be stored, "" when the
// Sink stored all of it. It is final once Close has returned. The reason
// never holds a secret: it is the safe message of the Sink's error, masked.
func (c *Capture) Incomplete() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.incomplete
}

// reason turns a Sink error into a short text that may be stored with the
// run: the message of a *connecthub.Error (written to be shown to users),
// or a generic text, because other errors may carry addresses or driver
// detail.
func (c *Capture) reason(err error) string {
	var ce *connecthub.Error
	var r string
	switch {
	case errors.As(err, &ce) && ce.Message != "":
		r = ce.Message
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		r = "storing the log timed out"
	default:
		r = "the log could not be stored"
	}
	r = strings.Join(strings.Fields(c.masker.Mask(r)), " ")
	return cutRunes(r, maxReasonRunes)
}

// markIncomplete records that part of the log is lost because of err; the
// first reason is kept.
func (c *Capture) markIncomplete(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.incomplete == "" {
		c.incomplete = c.reason(err)
	}
}
