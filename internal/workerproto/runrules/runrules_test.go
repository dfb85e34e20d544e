package runrules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/protocol"
)

func TestCapChunk(t *testing.T) {
	t.Parallel()
	const max = 100
	limit := max - len(TruncationSuffix)
	tests := []struct {
		name  string
		chunk string
		size  int64
		want  string
	}{
		{"fits", "abc", 0, "abc"},
		{"fits exactly below the marker's room", strings.Repeat("a", limit), 0, strings.Repeat("a", limit)},
		{"cut with the marker", strings.Repeat("a", limit+1), 0, strings.Repeat("a", limit) + TruncationSuffix},
		{"cut after earlier appends", "0123456789", int64(limit - 4), "0123" + TruncationSuffix},
		{"full log takes only the marker", "x", int64(limit), TruncationSuffix},
		{"log with its marker takes nothing", "x", max, ""},
		{"cut on a rune boundary", strings.Repeat("a", limit-1) + "é", 0, strings.Repeat("a", limit-1) + TruncationSuffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CapChunk(tt.chunk, tt.size, max)
			if got != tt.want {
				t.Errorf("CapChunk = %q, want %q", got, tt.want)
			}
			if tt.size+int64(len(got)) > max || !utf8.ValidString(got) {
				t.Errorf("log of %d bytes + %q breaks the cap or UTF-8", tt.size, got)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"nul\x00byte", "nul\uFFFDbyte"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if got := CleanText(tt.in); got != tt.want {
			t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAlreadyApplied(t *testing.T) {
	t.Parallel()
	const node = "w1"
	out := func(attempt int, errText string) *store.RunOutcome {
		return &store.RunOutcome{Node: node, Attempt: attempt, Error: errText}
	}
	tests := []struct {
		name   string
		run    connecthub.Run
		status string
		o      *store.RunOutcome
		want   bool
	}{
		{"success recorded", connecthub.Run{Status: connecthub.StatusSuccess, Node: node, Attempt: 1}, "SUCCESS", out(1, ""), true},
		{"failure recorded", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 1, Error: "boom"}, "FAILURE", out(1, "boom"), true},
		{"rescued to failure: worker lost", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 1, Error: connecthub.ReasonWorkerLost}, "SUCCESS", out(1, ""), false},
		{"rescued, re-queued", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2}, "SUCCESS", out(1, ""), false},
		{"rescued, running elsewhere", connecthub.Run{Status: connecthub.StatusRunning, Node: "w2", Attempt: 2}, "SUCCESS", out(1, ""), false},
		{"other node's success", connecthub.Run{Status: connecthub.StatusSuccess, Node: "w2", Attempt: 1}, "SUCCESS", out(1, ""), false},
		{"retry recorded", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2, Attempts: []connecthub.Attempt{{Attempt: 1, Node: node, Error: "e"}}}, protocol.CompleteRetry, out(1, "e"), true},
		{"retry after a rescue", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2, Attempts: []connecthub.Attempt{{Attempt: 1, Node: node, Error: connecthub.ReasonWorkerLost}}}, protocol.CompleteRetry, out(1, "e"), false},
		{"retry on the last attempt", connecthub.Run{Status: connecthub.StatusFailure, Node: node, Attempt: 3, Error: "e"}, protocol.CompleteRetry, out(3, "e"), true},
		{"retry of a canceled run", connecthub.Run{Status: connecthub.StatusCanceled, Node: node, Attempt: 1, CancelRequested: true}, protocol.CompleteRetry, out(1, "e"), true},
		{"hand-back recorded", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 1}, protocol.CompleteHandBack, out(1, ""), true},
		{"hand-back, claimed again elsewhere", connecthub.Run{Status: connecthub.StatusRunning, Node: "w2", Attempt: 1}, protocol.CompleteHandBack, out(1, ""), true},
		{"hand-back after a rescue", connecthub.Run{Status: connecthub.StatusQueued, Attempt: 2}, protocol.CompleteHandBack, out(1, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := AlreadyApplied(&tt.run, tt.status, tt.o); got != tt.want {
				t.Errorf("AlreadyApplied = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	run := &connecthub.Run{Status: connecthub.StatusRunning, Node: "w1", Attempt: 2}
	tests := []struct {
		name    string
		run     *connecthub.Run
		node    string
		attempt int
		want    bool
	}{
		{"holder", run, "w1", 2, true},
		{"older attempt", run, "w1", 1, false},
		{"other node", run, "w2", 2, false},
		{"ended", &connecthub.Run{Status: connecthub.StatusSuccess, Node: "w1", Attempt: 2}, "w1", 2, false},
	}
	for _, tt := range tests {
		if got := Holds(tt.run, tt.node, tt.attempt); got != tt.want {
			t.Errorf("%s: Holds = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSecretStrings(t *testing.T) {
	t.Parallel()
	got, err := SecretStrings(map[string]any{
		"token": "abc", "port": float64(8443), "flag": true, "nested": map[string]any{"a": []any{"x"}}, "none": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"token": "abc", "port": "8443", "flag": "true", "nested": `{"a":["x"]}`, "none": "null"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got, err := SecretStrings(nil); got != nil || err != nil {
		t.Errorf("SecretStrings(nil) = %v, %v", got, err)
	}
}

// secretReader answers RunSecret from a map and counts the reads.
type secretReader struct {
	tokens map[string]string
	reads  int
}

func (r *secretReader) RunSecret(_ context.Context, id string) (string, error) {
	r.reads++
	tok, ok := r.tokens[id]
	if !ok {
		return "", connecthub.Errorf(connecthub.KindNotFound, "run %s not found", id)
	}
	return tok, nil
}

// decrypter "decrypts" tokens of the form "ok:<value>" into {"k": value}.
type decrypter struct{}

func (decrypter) DecryptJSON(token string) (map[string]any, error) {
	v, ok := strings.CutPrefix(token, "ok:")
	if !ok {
		return nil, errors.New("bad token")
	}
	return map[string]any{"k": v}, nil
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		snap      connecthub.Snapshot
		keys      Decrypter
		want      string
		wantErr   string
		wantReads int
	}{
		{name: "no secrets, no read", snap: connecthub.Snapshot{}, keys: decrypter{}},
		{name: "token in the snapshot", snap: connecthub.Snapshot{SecretCfg: "ok:a"}, keys: decrypter{}, want: "a"},
		{name: "token read from the store", snap: connecthub.Snapshot{HasSecret: true}, keys: decrypter{}, want: "stored", wantReads: 1},
		{name: "no key file", snap: connecthub.Snapshot{SecretCfg: "ok:a"}, wantErr: "no key file"},
		{name: "cannot decrypt", snap: connecthub.Snapshot{SecretCfg: "garbage"}, keys: decrypter{}, wantErr: "bad token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &secretReader{tokens: map[string]string{"r1": "ok:stored"}}
			got, err := Secrets(t.Context(), st, tt.keys, &connecthub.Run{ID: "r1", Snapshot: tt.snap})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" && got != nil || tt.want != "" && got["k"] != tt.want {
				t.Errorf("secrets = %v, want k=%q", got, tt.want)
			}
			if st.reads != tt.wantReads {
				t.Errorf("RunSecret read %d times, want %d", st.reads, tt.wantReads)
			}
		})
	}
	// A missing run's secret names the failure and keeps its kind.
	_, err := Secrets(t.Context(), &secretReader{}, decrypter{}, &connecthub.Run{ID: "gone", Snapshot: connecthub.Snapshot{HasSecret: true}})
	if !connecthub.IsKind(err, connecthub.KindNotFound) || !strings.Contains(err.Error(), "read secret_cfg") {
		t.Errorf("missing run: %v", err)
	}
}

func TestMasker(t *testing.T) {
	t.Parallel()
	base := runlog.NewMasker([]string{"server-admin-token"})
	m, err := Masker(base, map[string]any{"token": "s3cr3t-value", "port": float64(8443)})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Mask("token=s3cr3t-value port=8443 admin=server-admin-token"); strings.Contains(got, "s3cr3t-value") ||
		strings.Contains(got, "8443") || strings.Contains(got, "server-admin-token") {
		t.Errorf("Mask left a secret: %q", got)
	}
	if got := RunMasker(nil, nil).Mask("s3cr3t-value"); got != "s3cr3t-value" {
		t.Errorf("a masker without secrets masked %q", got)
	}
}

func TestServerSecrets(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "fernet.key")
	if err := os.WriteFile(keyFile, []byte("\ufeff# comment\n\nkey-one=\n  key-two=  ,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dbURL string
		want  []string
	}{
		{"URL password", "postgres://ch:pg%20pass@db/ch", []string{"admin-token", "admin-pw", "pg pass", "key-one=", "key-two="}},
		{"key=value password", "host=db user=ch password='kv-pass' dbname=ch", []string{"admin-token", "admin-pw", "kv-pass", "key-one=", "key-two="}},
		{"SQLite", "sqlite:///data/ch.db", []string{"admin-token", "admin-pw", "key-one=", "key-two="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ServerSecrets("admin-token", "admin-pw", "", tt.dbURL, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ServerSecrets = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ServerSecrets("", "", "", "", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing key file was not reported")
	}
}
