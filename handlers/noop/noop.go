// Package noop provides the built-in "noop" handler, which does nothing and
// succeeds. It exists for smoke tests and benchmarks, where the cost of the
// handler must not hide the cost of scheduling, claiming and recording runs.
package noop

import (
	"context"
	_ "embed"

	"github.com/connecthub/connecthub/handler"
)

// Name is the handler name jobs put in their "handler" field.
const Name = "noop"

//go:embed schema.json
var schema []byte

// Spec returns the noop handler's spec.
func Spec() handler.Spec {
	return handler.Spec{
		Name:         Name,
		Description:  "Does nothing and succeeds at once; for smoke tests and benchmarks.",
		ConfigSchema: schema,
		Func:         run,
		Translations: map[string]handler.Text{
			"zh-CN": {Description: "什么也不做，立即成功；用于冒烟测试和基准测试。"},
		},
	}
}

// run succeeds at once with the message "ok". It reads neither its
// configuration nor its context, so it costs one small allocation: a fresh
// Result, because the caller may append warnings to its message.
func run(context.Context, *handler.Task) (*handler.Result, error) {
	return &handler.Result{Message: "ok"}, nil
}
