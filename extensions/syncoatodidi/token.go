package syncoatodidi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handler"
)

// token is sync_oa_to_didi.token: it logs in and reports that it worked.
//
// A token is not one of the job's configured secrets, so the run log would
// not mask it: only its first characters and its length are logged and
// returned, enough to tell two tokens apart when comparing runs.
func (h *handlers) token(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	if t == nil {
		return nil, handler.Permanent(errors.New("handler called without a task"))
	}
	var cfg tokenConfig
	if err := t.Decode(&cfg); err != nil {
		return nil, err
	}
	client, err := h.seeyonClient(t, cfg.seeyonConfig)
	if err != nil {
		return nil, err
	}
	log := logger(t)
	log.Info("logging in to the Seeyon OA", "base_url", cfg.SeeyonBaseURL, "login_name", cfg.SeeyonLoginName)
	tok, err := client.Login(ctx)
	if err != nil {
		return nil, loginPermanent(err)
	}
	prefix := tokenPrefix(tok)
	n := utf8.RuneCountInString(tok)
	log.Info("Seeyon login succeeded", "token_prefix", prefix, "token_length", n)
	return &handler.Result{
		Message: fmt.Sprintf("Seeyon token obtained (%s…, %d characters)", prefix, n),
		Data: map[string]any{
			"token_prefix": prefix,
			"token_length": n,
			"login_name":   cfg.SeeyonLoginName,
		},
	}, nil
}

// tokenPrefix returns the first characters of a token: 4, or a quarter of a
// short token, so that a prefix never gives most of a token away.
func tokenPrefix(tok string) string {
	runes := []rune(tok)
	n := min(4, len(runes)/4)
	return string(runes[:n])
}

// logger returns the task's logger, or one that discards everything when a
// caller left it nil.
func logger(t *handler.Task) *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.New(slog.DiscardHandler)
}
