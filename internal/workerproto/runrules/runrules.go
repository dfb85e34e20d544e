// Package runrules holds the rules a run's attempt follows whichever way it
// executes: how its secrets are read and decrypted, how they are masked out
// of what a worker reports, how a stored log is capped, and how a repeated
// completion is recognised.
//
// Both the in-process worker's LocalSource (internal/worker) and the server
// side of the worker protocol (internal/workerproto) call these functions,
// so that a run behaves the same on a server's own worker pool and on a
// remote worker. The package is a leaf (it imports neither of them), which
// lets internal/worker use it while internal/workerproto imports
// internal/worker.
package runrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/protocol"
)

// SecretReader reads a run's encrypted secret_cfg; store.Store implements
// it.
type SecretReader interface {
	RunSecret(ctx context.Context, id string) (string, error)
}

// Decrypter decrypts a secret_cfg token; *secret.Keyring implements it.
type Decrypter interface {
	DecryptJSON(token string) (map[string]any, error)
}

// Secrets decrypts a run's secret_cfg (nil when it has none). The token is
// taken from the snapshot when the store filled it, else read with
// RunSecret, so that runs without secrets (the common, hot case) cost no
// extra query. A nil keys fails runs that have secrets with a clear error.
func Secrets(ctx context.Context, st SecretReader, keys Decrypter, run *connecthub.Run) (map[string]any, error) {
	token := run.Snapshot.SecretCfg
	if token == "" && run.Snapshot.HasSecret {
		var err error
		if token, err = st.RunSecret(ctx, run.ID); err != nil {
			return nil, fmt.Errorf("read secret_cfg: %w", err)
		}
	}
	if token == "" {
		return nil, nil
	}
	if keys == nil {
		return nil, errors.New("secret_cfg cannot be decrypted: this node has no key file")
	}
	return keys.DecryptJSON(token)
}

// SecretStrings turns decrypted secret_cfg values into the strings a
// handler gets: strings as they are, anything else as its JSON text.
func SecretStrings(values map[string]any) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(values))
	for k, v := range values {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("secret_cfg key %q: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// Masker builds the masker of a run's decrypted secrets on top of base,
// the masker of the server's own secrets (nil when there are none), the
// same one the worker runtime's log capture uses, so that a secret is
// hidden the same way whoever masks it.
func Masker(base *runlog.Masker, values map[string]any) (*runlog.Masker, error) {
	strs, err := SecretStrings(values)
	if err != nil {
		return nil, err
	}
	return RunMasker(base, strs), nil
}

// RunMasker is Masker for secrets already turned into strings.
func RunMasker(base *runlog.Masker, secrets map[string]string) *runlog.Masker {
	list := make([]string, 0, len(secrets))
	for _, v := range secrets {
		list = append(list, v)
	}
	return base.With(list)
}

// ServerSecrets lists the server's own secrets, which every run's texts are
// masked for, so that a job that reads them (a shell job printing the key
// file, a handler echoing its environment) cannot store them in clear: the
// admin token and password, the worker token, the password in the database
// URL, and the keys in the Fernet key file. Empty values are left out.
func ServerSecrets(adminToken, adminPassword, workerToken, dbURL, keyFile string) ([]string, error) {
	out := []string{adminToken, adminPassword, workerToken, dbPassword(dbURL)}
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("read the key file to mask its keys: %w", err)
		}
		// The key file's syntax (internal/secret.Parse): a BOM, blank lines
		// and # comments ignored, several keys on a line separated by commas.
		for line := range strings.Lines(strings.TrimPrefix(string(b), "\ufeff")) {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			for key := range strings.SplitSeq(line, ",") {
				out = append(out, strings.TrimSpace(key))
			}
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" }), nil
}

// dbPassword returns the password of a database URL
// (postgres://user:password@host/db) or of a key=value connection string
// (password=...), or "" when it has none.
func dbPassword(dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	for _, field := range strings.Fields(dbURL) {
		if v, ok := strings.CutPrefix(field, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// TruncationSuffix ends a log that reached its cap.
const TruncationSuffix = "\n" + runlog.TruncatedMarker + "\n"

// CapChunk cuts chunk so that a log of size bytes stays within max: the
// content is kept within max minus the truncation marker, so that the
// marker always fits after it; the chunk that crosses that line is cut and
// ends with the marker, and a log that has its marker takes nothing more.
func CapChunk(chunk string, size int64, max int) string {
	limit := int64(max) - int64(len(TruncationSuffix))
	if size+int64(len(chunk)) <= limit {
		return chunk
	}
	keep := limit - size
	if keep < 0 {
		return ""
	}
	cut := int(keep)
	for cut > 0 && !utf8.RuneStart(chunk[cut]) {
		cut--
	}
	return chunk[:cut] + TruncationSuffix
}

// CleanText makes text storable in a text column: valid UTF-8 without NUL
// bytes (PostgreSQL rejects both).
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Holds reports whether node holds that attempt of run: the run is
// RUNNING, leased to node, in that attempt. Only the holder may report on
// an attempt; a node whose attempt was rescued and that claimed the run
// again holds the new attempt, not the old one.
func Holds(run *connecthub.Run, node string, attempt int) bool {
	return run.Status == connecthub.StatusRunning && run.Node == node && run.Attempt == attempt
}

// AlreadyApplied reports whether run shows that outcome o, reported with
// the protocol's status (protocol.CompleteSuccess ... CompleteHandBack),
// was recorded before: the mark each kind of outcome leaves on the run,
// which a rescue ("worker lost", attempt+1) never leaves. It lets a worker
// that lost the answer to a completion simply send it again.
func AlreadyApplied(run *connecthub.Run, status string, o *store.RunOutcome) bool {
	sameAttempt := run.Attempt == o.Attempt && run.Node == o.Node
	// A re-queue of a run whose cancel was requested ends it CANCELED.
	canceled := sameAttempt && run.Status == connecthub.StatusCanceled && run.CancelRequested
	switch status {
	case protocol.CompleteRetry:
		for _, at := range run.Attempts {
			if at.Attempt == o.Attempt && at.Node == o.Node && at.Error == o.Error {
				return true
			}
		}
		// On its last attempt a retry ends the run FAILURE.
		return canceled || (sameAttempt && run.Status == connecthub.StatusFailure && run.Error == o.Error)
	case protocol.CompleteHandBack:
		if run.Attempt == o.Attempt && (run.Status == connecthub.StatusQueued || (run.Status == connecthub.StatusRunning && run.Node != o.Node)) {
			return true
		}
		return canceled
	default:
		return sameAttempt && string(run.Status) == status && run.Error == o.Error
	}
}
