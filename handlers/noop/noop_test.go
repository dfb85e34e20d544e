package noop_test

import (
	"context"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
	"github.com/connecthub/connecthub/handlers/noop"
)

func TestRunSucceeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		task *handler.Task
	}{
		{"empty config", &handler.Task{}},
		{"any config", &handler.Task{Config: []byte(`{"ignored": [1, 2, 3]}`)}},
		// noop does not read its config, so even a bad one cannot fail it.
		{"not an object", &handler.Task{Config: []byte(`"x"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := noop.Spec().Func(context.Background(), tt.task)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res == nil || res.Message != "ok" || res.Data != nil {
				t.Fatalf("result = %+v, want message ok and no data", res)
			}
		})
	}
}

func TestRunReturnsAFreshResult(t *testing.T) {
	t.Parallel()
	run := noop.Spec().Func
	a, _ := run(context.Background(), &handler.Task{})
	a.Message += " (1 warning)"
	b, _ := run(context.Background(), &handler.Task{})
	if b.Message != "ok" {
		t.Fatalf("a caller's change to one result leaked into the next: %q", b.Message)
	}
}

func TestRunAllocatesAtMostOnce(t *testing.T) {
	run := noop.Spec().Func
	task := &handler.Task{}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() { _, _ = run(ctx, task) })
	if allocs > 1 {
		t.Fatalf("noop allocates %v times per run, want at most 1", allocs)
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	spec := noop.Spec()
	if spec.Name != "noop" || spec.Func == nil || spec.Description == "" || len(spec.SecretKeys) != 0 {
		t.Fatalf("spec = %+v", spec)
	}
	handlertest.CheckSchema(t, spec,
		[]string{`{}`, `{"anything": 1}`},
		[]string{`[]`, `"x"`, `null`})
}

func BenchmarkRun(b *testing.B) {
	run := noop.Spec().Func
	task := &handler.Task{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := run(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
}
