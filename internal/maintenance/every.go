package maintenance

import (
	"context"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
)

// every calls pass first after start (at once when start is 0) and then
// interval after the end of each pass, until ctx ends. It waits on a timer
// of clk that is armed only between passes, so with a fake clock "a timer
// is pending" means "idle between passes". Counting from the end of a
// pass, rather than on a fixed tick, keeps a slow database from stacking
// passes back to back.
func every(ctx context.Context, clk clock.Clock, start, interval time.Duration, pass func()) {
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	wait := start
	for {
		if wait <= 0 {
			pass()
			if ctx.Err() != nil {
				return
			}
			wait = interval
		}
		if timer == nil {
			timer = clk.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		wait = 0
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
	}
}
