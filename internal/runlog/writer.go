package runlog

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxLineBytes bounds a line of Writer input that has no newline yet. A
// subprocess that prints megabytes without a newline is recorded as several
// lines of this size instead of growing a buffer without limit.
const maxLineBytes = 64 << 10

// warningPrefix marks a stderr line as a warning (the shell handler's
// contract, after optional leading whitespace).
var warningPrefix = []byte("WARNING")

// Writer returns an io.Writer that records each line written to it as a
// line of the run log at level, for a subprocess's stdout or stderr. Partial
// lines are kept until their newline arrives (or until Close of the Capture or
// of the writer), "\r\n" endings are accepted, and a line longer than 64 KiB
// is recorded in pieces. Because it masks whole lines, a secret split across
// two Write calls is still masked, and a long line is never cut inside a
// secret. Write never fails and never blocks on the Sink; output that can no
// longer be kept is discarded. The returned writer also implements io.Closer,
// which records a pending unterminated line. Create one writer per stream.
func (c *Capture) Writer(level slog.Level) io.Writer {
	return c.newWriter(level, false)
}

// StderrWriter returns a Writer at INFO level that records lines whose text
// starts with "WARNING" (case-sensitive, after optional whitespace) as
// warnings, so that they appear in the run's message.
func (c *Capture) StderrWriter() io.Writer {
	return c.newWriter(slog.LevelInfo, true)
}

func (c *Capture) newWriter(level slog.Level, promote bool) *lineWriter {
	w := &lineWriter{
		c:       c,
		level:   level,
		promote: promote,
		// Room for two of the longest secret, so that holding one back
		// never stalls the cutting of a long line.
		limit: max(maxLineBytes, 2*c.masker.maxLen),
	}
	c.mu.Lock()
	c.writers = append(c.writers, w)
	c.mu.Unlock()
	return w
}

// lineWriter splits a byte stream into lines for a Capture.
type lineWriter struct {
	c       *Capture
	level   slog.Level
	promote bool
	limit   int

	mu    sync.Mutex
	buf   []byte // the current line so far, without its newline
	split bool   // whether part of the current line was already recorded
}

// Write implements io.Writer. It always reports len(p) bytes written, so a
// subprocess is never stopped by a full or closed run log.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !w.wanted() {
		return n, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i >= 0 && len(w.buf) == 0 && !w.split && i < w.limit {
			w.emit(bytes.TrimSuffix(p[:i], []byte("\r"))) // the common case: no copy
			p = p[i+1:]
			continue
		}
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		for len(seg) > 0 {
			k := min(w.limit-len(w.buf), len(seg))
			w.buf = append(w.buf, seg[:k]...)
			seg = seg[k:]
			if len(w.buf) >= w.limit {
				w.drainLong()
			}
		}
		if i < 0 {
			break
		}
		p = p[i+1:]
		w.endLine()
	}
	return n, nil
}

// Close records the pending unterminated line, if any. The writer stays
// usable.
func (w *lineWriter) Close() error {
	w.flushPartial()
	return nil
}

func (w *lineWriter) flushPartial() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.endLine()
	}
}

// endLine records what is left of the current line. A line whose pieces were
// all recorded already leaves nothing, and no empty line is recorded for it.
func (w *lineWriter) endLine() {
	if len(w.buf) > 0 || !w.split {
		w.emit(bytes.TrimSuffix(w.buf, []byte("\r")))
	}
	w.buf = w.buf[:0]
	w.split = false
}

// wanted reports, without locking, whether anything this writer could record
// would still be kept.
func (w *lineWriter) wanted() bool {
	minLevel := w.c.cfg.Level.Level()
	if w.level >= minLevel && w.c.accepting(w.level) {
		return true
	}
	return w.promote && slog.LevelWarn >= minLevel && w.c.accepting(slog.LevelWarn)
}

// drainLong records the front of an over-long line. It holds back the last
// bytes, which may be the start of a secret or of a rune whose end has not
// been written yet, cuts on a UTF-8 boundary, and moves the cut past any
// secret that would straddle it.
func (w *lineWriter) drainLong() {
	hold := max(w.c.masker.maxLen-1, utf8.UTFMax-1)
	for len(w.buf) >= w.limit {
		cut := len(w.buf) - hold
		if r := runeStartBefore(w.buf, cut); r > 0 {
			cut = r
		}
		cut = w.c.masker.extendAcross(w.buf, cut)
		w.emit(w.buf[:cut])
		w.buf = w.buf[:copy(w.buf, w.buf[cut:])]
		w.split = true
	}
}

// emit records one line, promoting it to a warning when this is a stderr
// writer and the line says so.
func (w *lineWriter) emit(line []byte) {
	level := w.level
	if w.promote && bytes.HasPrefix(bytes.TrimLeftFunc(line, unicode.IsSpace), warningPrefix) {
		level = slog.LevelWarn
	}
	if level < w.c.cfg.Level.Level() {
		return
	}
	w.c.record(w.c.now(time.Time{}), level, line)
}
