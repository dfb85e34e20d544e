package handlertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

// echo is a handler under test: it logs the name from its public_cfg.
var echo = handler.Spec{
	Name:         "example.echo",
	Description:  "Logs a name",
	ConfigSchema: json.RawMessage(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"name": {"type": "string", "description": "Who to greet"}}, "required": ["name"]}`),
	Func: func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
		var cfg struct {
			Name string `json:"name"`
		}
		if err := t.Decode(&cfg); err != nil {
			return nil, err
		}
		t.Logger().Info("hello", "name", cfg.Name)
		return &handler.Result{Message: "ok"}, nil
	},
}

// A test runs the handler with a Task from NewTask and reads what it logged
// from the Recorder, waiting for a line rather than sleeping.
func ExampleNewTask() {
	task, rec := handlertest.NewTask(`{"name": "Ada"}`, nil)
	if _, err := echo.Func(context.Background(), task); err != nil {
		fmt.Println(err)
		return
	}
	line, err := rec.WaitFor(context.Background(), func(r handlertest.Record) bool { return r.Message == "hello" })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(line.Message, line.Attrs["name"])
	// Output: hello Ada
}

// TestEchoSchema is how a handler's test checks its config schema: it
// compiles as the server compiles it, and accepts and rejects examples.
func TestEchoSchema(t *testing.T) {
	t.Parallel()
	handlertest.CheckSchema(t, echo,
		[]string{`{"name": "Ada"}`},
		[]string{`{}`, `{"name": 1}`})
}
