package sleep

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		config  string
		want    float64
		wantErr string // a substring of the Permanent error
	}{
		{config: ``, want: 1},
		{config: `{}`, want: 1},
		{config: `null`, want: 1},
		{config: `{"seconds": 0}`, want: 0},
		{config: `{"seconds": 1.5}`, want: 1.5},
		{config: `{"seconds": 86400}`, want: 86400},
		{config: `{"seconds": -0.5}`, wantErr: "seconds must be between 0 and 86400, got -0.5"},
		{config: `{"seconds": 86401}`, wantErr: "seconds must be between 0 and 86400, got 86401"},
		{config: `{"seconds": "1"}`, wantErr: "public_cfg.seconds must be a number, not a string"},
		{config: `{"sconds": 1}`, wantErr: `unknown key "sconds"`},
		{config: `{"Seconds": 1}`, wantErr: `unknown key "Seconds"`},
		{config: `[1]`, wantErr: "public_cfg must be a JSON object"},
		{config: `{"seconds": 1`, wantErr: "public_cfg must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			t.Parallel()
			task, _ := handlertest.NewTask(tt.config, nil)
			got, err := parse(task)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if !handler.IsPermanent(err) {
					t.Fatalf("err = %v is not permanent", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRunSleepsAndSucceeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		config  string
		atLeast time.Duration
		message string
	}{
		{`{"seconds": 0}`, 0, "slept 0s"},
		{`{"seconds": 0.05}`, 50 * time.Millisecond, "slept 0.05s"},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			t.Parallel()
			task, _ := handlertest.NewTask(tt.config, nil)
			start := time.Now()
			res, err := Spec().Func(context.Background(), task)
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < tt.atLeast {
				t.Errorf("returned after %v, want at least %v", elapsed, tt.atLeast)
			}
			if res.Message != tt.message {
				t.Errorf("message = %q, want %q", res.Message, tt.message)
			}
		})
	}
}

func TestRunHonoursCancellation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		ctx    func() (context.Context, context.CancelFunc)
		want   error
	}{
		{
			name:   "deadline during a long sleep",
			config: `{"seconds": 3600}`,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name:   "cancelled before a zero sleep",
			config: `{"seconds": 0}`,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := tt.ctx()
			defer cancel()
			task, _ := handlertest.NewTask(tt.config, nil)
			done := make(chan error, 1)
			go func() {
				_, err := Spec().Func(ctx, task)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("sleep did not return after its context ended")
			}
		})
	}
}

func TestRunCancelledMidSleep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	task, _ := handlertest.NewTask(`{"seconds": 3600}`, nil)
	done := make(chan error, 1)
	go func() {
		_, err := Spec().Func(ctx, task)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleep did not return after cancel")
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	spec := Spec()
	if spec.Name != "sleep" || spec.Func == nil || spec.Description == "" {
		t.Fatalf("spec = %+v", spec)
	}
	handlertest.CheckSchema(t, spec,
		[]string{`{}`, `{"seconds": 0}`, `{"seconds": 1.5}`, `{"seconds": 86400}`},
		[]string{`{"seconds": -1}`, `{"seconds": 86401}`, `{"seconds": "1"}`, `{"sconds": 1}`, `[]`})
}
