package runlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Capture collects one run's log. Create it with [New], give the handler
// [Capture.Logger] (and [Capture.Writer]s for subprocesses), and call
// [Capture.Close] when the handler has returned. All methods are safe for
// concurrent use.
type Capture struct {
	cfg    Config
	masker *Masker

	// closed and truncated are read without the mutex on the hot path so
	// that dropped records are rejected before they are formatted; they
	// are written with mu held so that appends see a consistent state.
	closed    atomic.Bool
	truncated atomic.Bool

	mu        sync.Mutex
	buf       []byte // accepted but not yet stored; always valid UTF-8
	flushed   int    // bytes stored by the Sink
	endsInNL  bool   // whether the stored part ends with '\n' (true when empty)
	started   bool   // whether the flusher goroutine runs
	scheduled bool   // whether the flusher has been told there is work
	writers   []*lineWriter
	// incomplete is why some of the log was lost ("" while nothing was): a
	// chunk the Sink dropped, or what the final flush could not store.
	incomplete string

	// Flusher plumbing, created by startLocked for the first line.
	wake     chan struct{}
	urgent   chan struct{}
	stop     chan struct{}
	exited   chan struct{}
	bgCtx    context.Context
	bgCancel context.CancelFunc

	wmu       sync.Mutex
	warnings  []string
	warnRunes int
	warnTotal int

	closeOnce    sync.Once
	closeErr     error
	finalTimeout time.Duration // finalFlushTimeout; shortened by tests
}

// New returns a Capture for one run. It costs a few allocations and starts
// nothing: the background flusher is started by the first line logged, so a
// run that logs nothing costs almost nothing.
func New(cfg Config) *Capture {
	cfg = cfg.withDefaults()
	m := cfg.Masker
	if m == nil {
		m = NewMasker(cfg.Secrets)
	}
	return &Capture{cfg: cfg, masker: m, endsInNL: true, finalTimeout: finalFlushTimeout}
}

// Masker returns the Masker of the log, so that the other texts of the run
// are masked the same way.
func (c *Capture) Masker() *Masker { return c.masker }

// Logf records a printf-style message at the given level, masked like every
// other line.
func (c *Capture) Logf(level slog.Level, format string, args ...any) {
	if level < c.cfg.Level.Level() || !c.accepting(level) {
		return
	}
	msg := trimEOL(fmt.Sprintf(format, args...))
	c.record(c.now(time.Time{}), level, []byte(msg))
}

// Bytes returns the size of the run log so far: the bytes accepted for
// storage, whether already flushed to the Sink or still buffered. It never
// exceeds MaxBytes.
func (c *Capture) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushed + len(c.buf)
}

// Truncated reports whether the log reached MaxBytes and was cut.
func (c *Capture) Truncated() bool { return c.truncated.Load() }

// Close stores what is left and stops the flusher. The final flush happens
// even when ctx is already cancelled (it keeps ctx's values under a short
// timeout of its own), because a run's last lines usually explain how it
// ended; ctx only limits how long Close waits for a background append that
// is in progress. Close is safe to call more than once and returns the same
// result each time. Lines logged after Close are dropped.
func (c *Capture) Close(ctx context.Context) error {
	return c.CloseWithin(ctx, 0)
}

// CloseWithin is Close with ctx limited to wait at most d (0: no limit of
// its own). The limit is set only when there is something to wait for: a
// run that logged nothing closes its log without a timer.
func (c *Capture) CloseWithin(ctx context.Context, d time.Duration) error {
	c.closeOnce.Do(func() { c.closeErr = c.close(ctx, d) })
	return c.closeErr
}

func (c *Capture) close(ctx context.Context, d time.Duration) error {
	// A subprocess's output may end without a newline: keep that line.
	c.mu.Lock()
	writers := slices.Clone(c.writers)
	c.mu.Unlock()
	for _, w := range writers {
		w.flushPartial()
	}

	c.mu.Lock()
	c.closed.Store(true)
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}

	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	close(c.stop)
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.bgCancel() // give up on the slow append; the final flush resends it
		<-c.exited
	}
	c.bgCancel()

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.finalTimeout)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		if err = c.flush(fctx, true); err == nil {
			break
		}
		if attempt == finalFlushAttempts {
			break
		}
		t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
		select {
		case <-t.C:
		case <-fctx.Done():
			t.Stop()
		}
		if fctx.Err() != nil {
			break
		}
	}
	if err != nil {
		c.markIncomplete(err)
	}
	c.mu.Lock()
	lost := len(c.buf)
	c.buf = nil
	reason, endsInNL := c.incomplete, c.endsInNL
	c.mu.Unlock()
	if reason != "" {
		c.appendIncomplete(ctx, reason, endsInNL)
	}
	if err != nil {
		return fmt.Errorf("runlog: run %s: storing the last %d bytes of the log: %w", c.cfg.RunID, lost, err)
	}
	return nil
}

// Warnings returns the WARN-level lines seen so far (masked, without time
// stamp and level), in order. They are kept even after the log was cut, up to
// about as much text as a run message can show; [Capture.Message] reports how
// many there were in total.
func (c *Capture) Warnings() []string {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return slices.Clone(c.warnings)
}

// Message builds the run's message from the handler's result message and
// the warnings of this run, like [Message], but masks the result message too
// and counts the warnings that were not kept.
func (c *Capture) Message(result string) string {
	c.wmu.Lock()
	warnings, total := slices.Clone(c.warnings), c.warnTotal
	c.wmu.Unlock()
	msg := c.masker.Mask(result)
	if reason := c.Incomplete(); reason != "" {
		msg = withIncomplete(msg, reason)
	}
	return buildMessage(msg, warnings, total)
}

// now returns the time stamp of a line whose record carries t (zero when
// it has none).
func (c *Capture) now(t time.Time) time.Time {
	switch {
	case c.cfg.Now != nil:
		return c.cfg.Now()
	case t.IsZero():
		return time.Now()
	default:
		return t
	}
}

// isWarning reports whether level counts as a warning for the run message:
// WARN and custom levels up to, but excluding, ERROR.
func isWarning(level slog.Level) bool {
	return level >= slog.LevelWarn && level < slog.LevelError
}

// accepting reports, without locking, whether a record at level would be
// kept. After the log was cut only warnings are still of use.
func (c *Capture) accepting(level slog.Level) bool {
	if c.closed.Load() {
		return false
	}
	return !c.truncated.Load() || isWarning(level)
}

// record masks body, stamps it and appends it to the log as one line.
func (c *Capture) record(t time.Time, level slog.Level, body []byte) {
	if !c.accepting(level) {
		return
	}
	bp := getBuf()
	defer putBuf(bp)
	line := t.UTC().AppendFormat(*bp, "2006-01-02T15:04:05.000Z")
	line = append(line, ' ')
	line = append(line, level.String()...)
	line = append(line, ' ')
	start := len(line)
	line = c.masker.appendMasked(line, body)
	line = sanitize(line, start)
	if len(line) == start {
		line = line[:start-1] // no trailing blank after the level
		start--
	}
	if isWarning(level) {
		c.addWarning(line[start:])
	}
	line = append(line, '\n')
	*bp = line

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	c.appendLocked(line)
}

// appendLocked adds a complete line to the buffer, or cuts the log when the
// line does not fit. The buffer can never outgrow MaxBytes, which is what
// keeps memory bounded while the Sink is slow or failing.
func (c *Capture) appendLocked(line []byte) {
	if c.truncated.Load() {
		return
	}
	if c.flushed+len(c.buf)+len(line) <= c.cfg.MaxBytes {
		c.buf = append(c.buf, line...)
	} else {
		c.truncateLocked(line)
	}
	c.scheduleLocked()
}

// truncateLocked cuts the log so that it ends with the marker within
// MaxBytes. Lines that were accepted but not yet flushed into the reserved
// room for the marker are taken back; flushLimitLocked guarantees that none
// of them has been (or is being) sent to the Sink.
func (c *Capture) truncateLocked(line []byte) {
	keep := c.cfg.MaxBytes - len(truncSuffix) - c.flushed
	if keep <= len(c.buf) {
		c.buf = c.buf[:runeStartBefore(c.buf, keep)]
	} else {
		c.buf = append(c.buf, line[:runeStartBefore(line, keep-len(c.buf))]...)
	}
	endsInNL := c.endsInNL
	if len(c.buf) > 0 {
		endsInNL = c.buf[len(c.buf)-1] == '\n'
	}
	if endsInNL {
		c.buf = append(c.buf, truncSuffix[1:]...)
	} else {
		c.buf = append(c.buf, truncSuffix...)
	}
	c.truncated.Store(true)
}

// flushLimitLocked returns how many buffered bytes may be sent now. Until
// the log is cut or closed, the last len(truncSuffix) bytes below MaxBytes
// are held back, because truncateLocked may still need them for the marker.
// The limit always falls on a UTF-8 boundary, so no chunk ends inside a
// rune.
func (c *Capture) flushLimitLocked(final bool) int {
	if final || c.truncated.Load() {
		return len(c.buf)
	}
	room := c.cfg.MaxBytes - len(truncSuffix) - c.flushed
	if room >= len(c.buf) {
		return len(c.buf)
	}
	if room <= 0 {
		return 0
	}
	return runeStartBefore(c.buf, room)
}

// scheduleLocked tells the flusher that there is something to flush,
// starting it on first use. It never blocks.
func (c *Capture) scheduleLocked() {
	if !c.scheduled {
		if c.flushLimitLocked(false) == 0 {
			return
		}
		if !c.started {
			c.startLocked()
		}
		c.scheduled = true
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	if len(c.buf) >= c.cfg.FlushBytes {
		select {
		case c.urgent <- struct{}{}:
		default:
		}
	}
}

func (c *Capture) startLocked() {
	c.started = true
	c.wake = make(chan struct{}, 1)
	c.urgent = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.exited = make(chan struct{})
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	go c.run()
}

// run is the flusher. It sleeps on a channel while there is nothing to
// flush, so an idle run causes no wake-ups; with lines pending it flushes
// every FlushInterval (sooner when FlushBytes is exceeded) and backs off
// while the Sink fails.
func (c *Capture) run() {
	defer close(c.exited)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	delay := c.cfg.FlushInterval
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		for {
			timer.Reset(delay)
			urgent := c.urgent
			if delay > c.cfg.FlushInterval {
				urgent = nil // backing off: size must not hurry a failing Sink
			}
			select {
			case <-timer.C:
			case <-urgent:
				timer.Stop()
			case <-c.stop:
				return
			}
			ctx, cancel := context.WithTimeout(c.bgCtx, sinkTimeout)
			err := c.flush(ctx, false)
			cancel()
			if err != nil {
				delay = min(delay*2, max(maxRetryDelay, c.cfg.FlushInterval))
				continue
			}
			delay = c.cfg.FlushInterval
			if !c.morePending() {
				break
			}
		}
	}
}

// morePending reports whether another flush is due, and otherwise marks the
// flusher idle so that the next line wakes it.
func (c *Capture) morePending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flushLimitLocked(false) > 0 {
		return true
	}
	c.scheduled = false
	return false
}

// flush sends what may be sent to the Sink. The mutex is not held during the
// call, so logging goes on while the Sink is slow; the bytes are removed from
// the buffer only once the Sink has accepted them, so a failed append is
// retried with the next flush.
func (c *Capture) flush(ctx context.Context, final bool) error {
	c.mu.Lock()
	n := c.flushLimitLocked(final)
	if n == 0 {
		c.mu.Unlock()
		return nil
	}
	chunk := string(c.buf[:n])
	c.mu.Unlock()

	if c.cfg.Sink != nil {
		if err := c.cfg.Sink.AppendLog(ctx, c.cfg.RunID, chunk); err != nil {
			if !errors.Is(err, ErrDropped) {
				return err // kept in the buffer and sent again
			}
			// Gone for good: the chunk still counts against MaxBytes, so
			// that the log stays bounded, and the log is incomplete.
			c.markIncomplete(err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = c.buf[:copy(c.buf, c.buf[n:])]
	c.flushed += n
	c.endsInNL = chunk[n-1] == '\n'
	return nil
}

// addWarning keeps a copy of a warning line for the run message.
func (c *Capture) addWarning(body []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.warnTotal++
	if c.warnRunes >= MaxMessageRunes {
		return // the message could not show it anyway
	}
	w := cutRunes(string(body), maxWarningRunes)
	c.warnings = append(c.warnings, w)
	c.warnRunes += utf8.RuneCountInString(w) + 1
}

// runeStartBefore returns the largest position p <= n at which b may be cut
// without splitting a UTF-8 sequence. It looks back at most three bytes, so
// invalid input still makes progress.
func runeStartBefore(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for i := n; i >= 0 && i > n-utf8.UTFMax; i-- {
		if i == 0 || utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// bufPool recycles line buffers, so that logging a line does not allocate.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) > 64<<10 {
		return // let a rare huge line be collected instead of pinning it
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}
