// Package logging sets up the process logger of ConnectHub: log/slog in
// text or JSON, to stdout and optionally to a size-rotated file.
//
// This is the log of the process itself (startup, requests, scheduler and
// worker events). What a handler logs during a run goes to that run's log in
// the database instead (internal/runlog).
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// The log file and its rotation policy when Options.Dir is set.
const (
	// FileName is the log file's name inside Options.Dir.
	FileName = "connecthub.log"
	// MaxFileBytes is the size at which the log file is rotated (10 MiB).
	MaxFileBytes = 10 << 20
	// KeepFiles is how many rotated files are kept (connecthub.log.1 to .5).
	KeepFiles = 5
)

// Options configure New. The zero value logs text at info level to stdout.
type Options struct {
	// Format is "text" (the default) or "json".
	Format string
	// Level is the lowest level logged: "debug", "info" (the default),
	// "warn" or "error". "warning" is accepted for "warn".
	Level string
	// Dir, when set, receives a rotating connecthub.log in addition to
	// Stdout. It is created if needed. "" logs to Stdout only.
	Dir string
	// Stdout is where records go in every case; nil means os.Stdout.
	// Tests pass a buffer.
	Stdout io.Writer
}

// New returns the process logger and a closer that closes the log file, if
// any. The closer is never nil, so callers can always defer its Close. New
// does not install the logger with slog.SetDefault: the caller decides.
func New(opts Options) (*slog.Logger, io.Closer, error) {
	level, err := parseLevel(opts.Level)
	if err != nil {
		return nil, nil, err
	}
	// Checked before the file is opened, so an error leaks nothing.
	format := strings.ToLower(strings.TrimSpace(opts.Format))
	if format != "" && format != "text" && format != "json" {
		return nil, nil, fmt.Errorf("logging: unknown format %q (use text or json)", opts.Format)
	}

	var out io.Writer = os.Stdout
	if opts.Stdout != nil {
		out = opts.Stdout
	}
	var closer io.Closer = nopCloser{}
	if opts.Dir != "" {
		f, err := OpenRotatingFile(filepath.Join(opts.Dir, FileName), MaxFileBytes, KeepFiles)
		if err != nil {
			return nil, nil, err
		}
		out = tee{out, f}
		closer = f
	}

	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(out, hopts)
	} else {
		h = slog.NewTextHandler(out, hopts)
	}
	return slog.New(h), closer, nil
}

// parseLevel reads a level name. slog's own parser also accepts offsets
// such as "info+2", which are allowed but not documented.
func parseLevel(s string) (slog.Level, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return slog.LevelInfo, nil
	case "warning":
		return slog.LevelWarn, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("logging: unknown level %q (use debug, info, warn or error)", s)
	}
	return l, nil
}

// tee writes each record to every writer, even when one fails, so that a
// full disk does not silence stdout and a closed stdout does not stop the
// file. It reports every failure.
type tee []io.Writer

func (t tee) Write(p []byte) (int, error) {
	var errs []error
	for _, w := range t {
		if _, err := w.Write(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return 0, errors.Join(errs...)
	}
	return len(p), nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
