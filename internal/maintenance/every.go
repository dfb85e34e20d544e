package maintenance

import (
	"context"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
)

// every calls pass (at once when immediate, else after interval) and then
// interval after the end of each pass, until ctx ends. It waits on a timer of clk that is armed only between
// passes, so with a fake clock "a timer is pending" means "idle between
// passes". Counting from the end of a pass, rather than on a fixed tick,
// keeps a slow database from stacking passes back to back.
func every(ctx context.Context, clk clock.Clock, interval time.Duration, immediate bool, pass func()) {
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if immediate {
			pass()
			if ctx.Err() != nil {
				return
			}
		}
		immediate = true
		if timer == nil {
			timer = clk.NewTimer(interval)
		} else {
			timer.Reset(interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
	}
}
