// Package acme is an example of a package of custom ConnectHub handlers. Its
// init function registers them, so a blank import is all a build needs.
package acme

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/connecthub/connecthub/handler"
)

// Config is the public_cfg of acme.greet.
type Config struct {
	Name  string `json:"name"`
	Times int    `json:"times"`
}

func init() {
	handler.Register(handler.Spec{
		Name:        "acme.greet",
		Description: "Logs a greeting; an example of a custom handler.",
		ConfigSchema: json.RawMessage(`{
			"type": "object",
			"properties": {
				"name":  {"type": "string", "description": "who to greet"},
				"times": {"type": "integer", "minimum": 1, "maximum": 10, "description": "how often"}
			},
			"required": ["name"],
			"additionalProperties": false
		}`),
		SecretKeys: []string{"api_key"},
		Func:       greet,
	})
}

func greet(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	var cfg Config
	if err := t.Bind(&cfg); err != nil {
		return nil, handler.Permanent(err) // a retry cannot fix a bad config
	}
	if cfg.Times == 0 {
		cfg.Times = 1
	}
	for i := 0; i < cfg.Times; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err // cancelled, timed out or shutting down
		}
		// The secret's value is masked as ****** in the stored run log.
		t.Log.Info("hello", "name", cfg.Name, "key", t.Secret("api_key"))
	}
	return &handler.Result{
		Message: fmt.Sprintf("greeted %s %d time(s)", cfg.Name, cfg.Times),
		Data:    map[string]any{"greeted": cfg.Name},
	}, nil
}
