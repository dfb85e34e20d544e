package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/handlers/sleep"
)

// Register the built-in handlers in a registry and run one by name, as the
// worker does.
func ExampleRegister() {
	r := handler.NewRegistry()
	if err := builtin.Register(r, builtin.Options{EnableShell: false}); err != nil {
		panic(err)
	}
	for _, spec := range r.List() {
		fmt.Println(spec.Name)
	}
	// Output:
	// httpcall
	// noop
	// sleep
}

// A handler is a plain function: a test calls its Func with a context and a
// Task carrying the public_cfg, the secrets and a logger, and checks the
// Result or the error.
func Example_callAHandlerInATest() {
	spec := sleep.Spec()
	task := &handler.Task{
		RunID:   "01J0EXAMPLE",
		JobID:   "demo.sleep",
		Attempt: 1,
		Config:  []byte(`{"seconds": 0.01}`),
		Secrets: map[string]string{},           // what secret_cfg decrypts to
		Log:     slog.New(slog.DiscardHandler), // the run log; a test would record it

	}
	res, err := spec.Func(context.Background(), task)
	fmt.Println(res.Message, err)

	// A bad configuration fails at once and is not retried.
	task.Config = []byte(`{"seconds": -1}`)
	_, err = spec.Func(context.Background(), task)
	fmt.Println(err, handler.IsPermanent(err))

	// The context is how a run is timed out or cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	task.Config = []byte(`{"seconds": 60}`)
	_, err = spec.Func(ctx, task)
	fmt.Println(errors.Is(err, context.Canceled))
	// Output:
	// slept 0.01s <nil>
	// seconds must be between 0 and 86400, got -1 true
	// true
}
