package workerproto

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// sealer encrypts and decrypts the held end of a log; *secret.Keyring
// implements it. Without one (a Config whose Keys cannot seal), each log
// request is masked on its own and a secret split across two requests is
// not seen.
type sealer interface {
	Encrypt(plaintext []byte) (string, error)
	Decrypt(token string) ([]byte, error)
}

func (s *Service) sealer() sealer {
	k, _ := s.cfg.Keys.(sealer)
	return k
}

// heldText returns, in clear, the end of the log that the node's previous
// request for this attempt held back ("" if none). A part that can no
// longer be opened (its key was retired) is dropped with a warning: it is
// a few bytes of an unfinished line, and showing it raw is not an option.
func (s *Service) heldText(ctx context.Context, run *connecthub.Run, attempt int) (string, error) {
	k := s.sealer()
	if k == nil {
		return "", nil
	}
	token, err := s.cfg.Store.RunLogHeldGet(ctx, run.ID, attempt)
	if err != nil || token == "" {
		return "", err
	}
	plain, err := k.Decrypt(token)
	if err != nil {
		s.log.Warn("dropped the held end of a run's log: it cannot be decrypted", "run", run.ID, "err", err)
		return "", nil
	}
	return string(plain), nil
}

// appendSplit masks text (the held end of the log, then what the node
// sends now) and appends it for the holder, holding back the end that may
// be the start of a secret the next request completes; final masks and
// appends everything, for the request that ends the attempt. It reports
// whether the node still holds the run.
func (s *Service) appendSplit(ctx context.Context, run *connecthub.Run, node string, attempt int, m *runlog.Masker, prev, text string, final bool) (bool, error) {
	k := s.sealer()
	var masked, held string
	if k == nil || final {
		masked = m.Mask(prev + text)
	} else {
		masked, held = m.MaskSplit(prev + text)
	}
	p := store.RunLogAppendParams{RunID: run.ID, Node: node, Attempt: attempt,
		Chunk: runrules.CapChunk(masked, run.LogSize, s.cfg.RunLogMaxBytes)}
	if held != "" || prev != "" {
		token := ""
		if held != "" {
			var err error
			if token, err = k.Encrypt([]byte(held)); err != nil {
				return false, err
			}
		}
		p.Held = &token
	}
	if p.Chunk == "" && p.Held == nil {
		return true, nil // nothing to write
	}
	return s.cfg.Store.RunLogAppendHeld(ctx, p)
}
