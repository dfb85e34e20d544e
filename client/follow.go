package client

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/connecthub/connecthub"
)

// RunFollow is what Follow tells the caller about a run while it follows
// it, and how often it looks.
type RunFollow struct {
	// Poll is how often a queued run is read again, to learn as soon as a
	// worker took it (default 200ms).
	Poll time.Duration
	// Seen is called with the run as first read, before Follow waits for a
	// worker, and returns where the run's log goes (nil: nowhere). A
	// writer that is an io.Closer is closed once the log ended, so that a
	// writer which holds a partial line flushes it before the run's end.
	Seen func(r *connecthub.Run) io.Writer
	// Started, if set, is called with the run once it left the queue:
	// taken by a worker (its Node set), or ended without one.
	Started func(r *connecthub.Run)
}

// Follow follows run id until it ends: it waits for a worker, streams the
// run's log as it comes, reconnecting where a broken stream stopped, and
// returns the run as it ended, its Duration filled. A run deleted while
// followed is an error.
func (a RunsAPI) Follow(ctx context.Context, id string, f RunFollow) (*connecthub.Run, error) {
	if f.Poll <= 0 {
		f.Poll = 200 * time.Millisecond
	}
	r, err := a.c.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	w := io.Discard
	if f.Seen != nil {
		if lw := f.Seen(r); lw != nil {
			w = lw
		}
	}
	if r, err = a.WaitStarted(ctx, r, f.Poll); err != nil {
		return nil, err
	}
	if f.Started != nil {
		f.Started(r)
	}
	status, err := a.c.FollowRunLog(ctx, id, w)
	if c, ok := w.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	if status == "DELETED" {
		return nil, fmt.Errorf("run %s was deleted while followed", id)
	}
	final, err := a.c.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	final.FillDuration()
	return final, nil
}
