package runlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults and limits of a [Config].
const (
	// DefaultMaxBytes is the default cap of a run log
	// (CONNECTHUB_RUN_LOG_MAX_BYTES).
	DefaultMaxBytes = 204800
	// MinMaxBytes is the smallest accepted cap: room for the truncation
	// marker and a few lines.
	MinMaxBytes = 64
	// DefaultFlushInterval is how long a logged line may wait in memory
	// before it is flushed to the Sink.
	DefaultFlushInterval = 200 * time.Millisecond
	// DefaultFlushBytes is the buffered size that triggers an early flush.
	DefaultFlushBytes = 16 << 10
)

// TruncatedMarker ends a run log or a run message that was cut.
const TruncatedMarker = "[TRUNCATED]"

// truncSuffix is what is appended to a cut log. Its length is reserved at the
// end of the log so that the marker always fits within MaxBytes.
const truncSuffix = "\n" + TruncatedMarker + "\n"

const (
	// sinkTimeout bounds one background append, so that a hung database
	// cannot keep a flusher (and therefore Close) waiting forever.
	sinkTimeout = 10 * time.Second
	// maxRetryDelay caps the back-off between retries of a failing Sink.
	maxRetryDelay = 5 * time.Second
	// finalFlushTimeout bounds the final flush in Close, which must happen
	// even when the caller's context is already cancelled.
	finalFlushTimeout = 5 * time.Second
	// finalFlushAttempts is how often Close tries to store the rest.
	finalFlushAttempts = 3
)

// Sink receives flushed chunks of a run's log. The worker runtime implements
// it (a DB append in-process, an HTTP call in a remote worker). Calls are
// sequential for one Capture. A chunk is a piece of the log, not necessarily
// a whole number of lines; the stored log is the concatenation of the chunks
// in call order. A chunk whose append returned an error is sent again, so an
// implementation whose failed call may nevertheless have stored the chunk
// (a timeout after commit) can see it twice.
type Sink interface {
	AppendLog(ctx context.Context, runID string, chunk string) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, runID string, chunk string) error

// AppendLog calls f.
func (f SinkFunc) AppendLog(ctx context.Context, runID string, chunk string) error {
	return f(ctx, runID, chunk)
}

// Config configures a [Capture]. The zero value of every field but RunID and
// Sink selects its default.
type Config struct {
	// RunID is passed to the Sink with every chunk.
	RunID string
	// Sink stores the log. Nil discards the log (warnings are still
	// collected), which suits dry runs and tests.
	Sink Sink
	// MaxBytes caps the stored log, including the truncation marker.
	// 0 means DefaultMaxBytes (204800); New raises smaller values to
	// MinMaxBytes.
	MaxBytes int
	// FlushInterval is how often buffered lines are flushed while the run
	// goes on. 0 means DefaultFlushInterval (200ms).
	FlushInterval time.Duration
	// FlushBytes triggers an early flush when the buffer grows past it.
	// 0 means DefaultFlushBytes (16 KiB).
	FlushBytes int
	// Secrets are the values to mask, typically the run's decrypted
	// secret_cfg values. Ignored when Masker is set.
	Secrets []string
	// Masker, when not nil, masks the log and the message instead of a
	// Masker built from Secrets. The worker builds one per run from the
	// run's secrets and the server's own, and masks the run's error,
	// traceback and result with it too.
	Masker *Masker
	// Level is the minimum level of the lines that are kept, whether they
	// come from Logger, Logf or a Writer. Nil means slog.LevelInfo.
	Level slog.Leveler
	// Now returns the time stamped on each line. Nil means the record's
	// time (time.Now for Writer lines); tests set it for stable output.
	Now func() time.Time
}

// Validate reports configuration values that New would have to replace,
// so that a configuration loader can reject them with a clear message
// instead of silently running with another value.
func (cfg Config) Validate() error {
	var errs []error
	if cfg.MaxBytes < 0 || (cfg.MaxBytes > 0 && cfg.MaxBytes < MinMaxBytes) {
		errs = append(errs, fmt.Errorf("runlog: MaxBytes %d must be 0 (default %d) or at least %d", cfg.MaxBytes, DefaultMaxBytes, MinMaxBytes))
	}
	if cfg.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("runlog: FlushInterval %s must not be negative", cfg.FlushInterval))
	}
	if cfg.FlushBytes < 0 {
		errs = append(errs, fmt.Errorf("runlog: FlushBytes %d must not be negative", cfg.FlushBytes))
	}
	if cfg.Sink != nil && cfg.RunID == "" {
		errs = append(errs, errors.New("runlog: RunID is required when a Sink is set"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields and replaces invalid ones, because New has
// no error to return: a run must be able to log whatever its configuration.
func (cfg Config) withDefaults() Config {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	cfg.MaxBytes = max(cfg.MaxBytes, MinMaxBytes)
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = DefaultFlushBytes
	}
	if cfg.Level == nil {
		cfg.Level = slog.LevelInfo
	}
	return cfg
}
