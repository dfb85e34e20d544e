package handler_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/connecthub/connecthub/handler"
)

// greetConfig is the public_cfg of the example handler below.
type greetConfig struct {
	Name  string `json:"name"`
	Times int    `json:"times"`
}

// greet reads its configuration with Decode, so that a misspelt key fails
// the run at once instead of silently taking a default.
func greet(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	cfg := greetConfig{Times: 1}
	if err := t.Decode(&cfg); err != nil {
		return nil, err // already permanent: a retry cannot fix a config
	}
	for range cfg.Times {
		t.Logger().Info("hello", "name", cfg.Name)
	}
	return &handler.Result{Message: fmt.Sprintf("greeted %s %d times", cfg.Name, cfg.Times)}, nil
}

func ExampleTask_Decode() {
	for _, cfg := range []string{
		`{"name": "Ada", "times": 2}`,
		`{"name": "Ada", "tims": 2}`,
		`{"name": "Ada", "times": "2"}`,
	} {
		res, err := greet(context.Background(), &handler.Task{Config: json.RawMessage(cfg)})
		if err != nil {
			fmt.Printf("error (permanent: %t): %v\n", handler.IsPermanent(err), err)
			continue
		}
		fmt.Println(res.Message)
	}
	// Output:
	// greeted Ada 2 times
	// error (permanent: true): public_cfg: unknown key "tims" (known keys: name, times)
	// error (permanent: true): public_cfg.times must be an integer, not a string
}
