// Package sleep provides the built-in "sleep" handler, which waits for a
// number of seconds. It stands in for a slow job when trying out timeouts,
// cancellation, concurrency policies and graceful shutdown.
package sleep

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/connecthub/connecthub/handler"
)

// Name is the handler name jobs put in their "handler" field.
const Name = "sleep"

// DefaultSeconds is how long the handler sleeps when public_cfg has no
// "seconds".
const DefaultSeconds = 1

// MaxSeconds bounds "seconds" to one day: a longer sleep is almost certainly
// a unit mistake (milliseconds for seconds), and a run that holds a worker
// slot for days should be a cron schedule instead.
const MaxSeconds = 86400

//go:embed schema.json
var schema []byte

// Spec returns the sleep handler's spec. Its public_cfg is
// {"seconds": 1.5}: a number from 0 to 86400, 1 when absent.
func Spec() handler.Spec {
	return handler.Spec{
		Name:         Name,
		Description:  "Waits for a number of seconds, then succeeds; honours timeouts and cancellation.",
		ConfigSchema: schema,
		Func:         run,
		Translations: map[string]handler.Text{
			"zh-CN": {
				Description: "等待若干秒后成功；遵守超时和取消。",
				Fields: map[string]string{
					"seconds": "等待的秒数，可以是小数（1.5）。默认 1，最多 86400（一天）。",
				},
			},
		},
	}
}

type config struct {
	Seconds *float64 `json:"seconds"`
}

func run(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	seconds, err := parse(t)
	if err != nil {
		return nil, err
	}
	// A run cancelled before it starts must not report success, whatever the
	// duration.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timer := time.NewTimer(time.Duration(seconds * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &handler.Result{Message: "slept " + strconv.FormatFloat(seconds, 'f', -1, 64) + "s"}, nil
}

// parse returns the number of seconds to sleep.
func parse(t *handler.Task) (float64, error) {
	var cfg config
	if err := t.Decode(&cfg); err != nil {
		return 0, err
	}
	if cfg.Seconds == nil {
		return DefaultSeconds, nil
	}
	seconds := *cfg.Seconds
	if math.IsNaN(seconds) || seconds < 0 || seconds > MaxSeconds {
		return 0, handler.Permanent(fmt.Errorf("seconds must be between 0 and %d, got %v", MaxSeconds, seconds))
	}
	return seconds, nil
}
