package syncoatodidi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/seeyon"
)

// exportForm is sync_oa_to_didi.export_form: it exports a CAP4 form, logs
// the answer in chunks and returns it whole.
//
// The answer is logged in chunks because one log line of megabytes is
// unreadable in the admin UI and would be cut by the run log's limit in the
// middle of a character; the chunks stop at log_max_bytes, and the whole
// answer is in the run's result either way.
//
// An answer whose JSON "code" reports a failure fails the run (after it has
// been logged), since a job that "succeeds" with an error body hides the
// problem from whoever watches the run list.
func (h *handlers) exportForm(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	if t == nil {
		return nil, handler.Permanent(errors.New("handler called without a task"))
	}
	var cfg exportFormConfig
	if err := t.Decode(&cfg); err != nil {
		return nil, err
	}
	chunk, maxBytes, err := cfg.logLimits()
	if err != nil {
		return nil, err
	}
	req, err := cfg.exportRequest()
	if err != nil {
		return nil, err
	}
	client, err := h.seeyonClient(t, cfg.seeyonConfig)
	if err != nil {
		return nil, err
	}
	log := logger(t)
	log.Info("exporting the CAP4 form", "template_code", req.TemplateCode, "base_url", cfg.SeeyonBaseURL)
	resp, err := client.ExportForm(ctx, req)
	if err != nil {
		return nil, loginPermanent(err)
	}
	log.Info("form exported", "status", resp.StatusCode, "content_type", resp.ContentType, "content_length", resp.ContentLength)
	logChunks(log, resp.Body, chunk, maxBytes)
	if err := seeyon.ResultError(resp.Body); err != nil {
		return nil, fmt.Errorf("exporting form %s: %w", req.TemplateCode, err)
	}
	return &handler.Result{
		Message: fmt.Sprintf("exported form %s: %d bytes (%s)", req.TemplateCode, resp.ContentLength, resp.ContentType),
		Data: map[string]any{
			"raw": string(resp.Body),
			"meta": map[string]any{
				"content_length": resp.ContentLength,
				"content_type":   resp.ContentType,
			},
		},
	}, nil
}

// logLimits checks and defaults the log keys.
func (c exportFormConfig) logLimits() (chunk, maxBytes int, err error) {
	chunk, maxBytes = DefaultLogChunkBytes, DefaultLogMaxBytes
	if c.LogChunkBytes != nil {
		chunk = *c.LogChunkBytes
		if chunk < minLogChunkBytes || chunk > maxLogChunkBytes {
			return 0, 0, handler.Permanent(fmt.Errorf("public_cfg.log_chunk_bytes must be between %d and %d, got %d",
				minLogChunkBytes, maxLogChunkBytes, chunk))
		}
	}
	if c.LogMaxBytes != nil {
		maxBytes = *c.LogMaxBytes
		if maxBytes < 0 || maxBytes > maxLogMaxBytes {
			return 0, 0, handler.Permanent(fmt.Errorf("public_cfg.log_max_bytes must be between 0 and %d, got %d",
				maxLogMaxBytes, maxBytes))
		}
	}
	return chunk, maxBytes, nil
}

// logChunks logs body as lines of at most chunk bytes each, cut between
// UTF-8 characters (so no line ends in half a 汉字), and stops once maxBytes
// have been logged, saying how much was left out. It returns the number of
// body bytes logged.
func logChunks(log *slog.Logger, body []byte, chunk, maxBytes int) int {
	if len(body) == 0 {
		return 0
	}
	parts := splitChunks(body, chunk)
	logged := 0
	for i, p := range parts {
		if logged+len(p) > maxBytes {
			log.Info("response body truncated in the run log; the whole body is in the run's result",
				"logged_bytes", logged, "total_bytes", len(body))
			return logged
		}
		log.Info("response body", "part", fmt.Sprintf("%d/%d", i+1, len(parts)), "body", string(p))
		logged += len(p)
	}
	return logged
}

// splitChunks cuts b into pieces of at most n bytes, at character
// boundaries when b is UTF-8. A piece is never empty: bytes that are not
// UTF-8 are cut at n.
func splitChunks(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if len(b) <= n {
			out = append(out, b)
			break
		}
		cut := n
		// Back up to the start of the character that straddles the cut,
		// at most utf8.UTFMax-1 bytes.
		for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(b[cut]); back++ {
			cut--
		}
		if cut == 0 || !utf8.RuneStart(b[cut]) {
			cut = n
		}
		out = append(out, b[:cut])
		b = b[cut:]
	}
	return out
}
