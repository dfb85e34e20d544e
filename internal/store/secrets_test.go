package store

import (
	"fmt"
	"strings"
	"testing"
)

// TestRewriteSecretsWritesOnlyChanges checks the walk RewriteSecrets runs
// for both drivers: every page of every column is read in id order, only
// the tokens the rewrite changed reach write, with the token it saw, and
// the counts are those write reports for the jobs and the runs columns.
func TestRewriteSecretsWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	const rows = SecretPageSize + 3 // two pages in the runs column
	tokens := map[string][]StoredToken{}
	for i := range rows {
		tokens["runs"] = append(tokens["runs"], StoredToken{ID: fmt.Sprintf("r%04d", i), Token: fmt.Sprintf("old-%d", i)})
	}
	tokens["jobs"] = []StoredToken{{ID: "a", Token: "keep"}, {ID: "b", Token: "old-b"}}
	page := func(c SecretColumn, after string) ([]StoredToken, error) {
		var out []StoredToken
		for _, tk := range tokens[c.Table] {
			if tk.ID > after && len(out) < SecretPageSize {
				out = append(out, tk)
			}
		}
		return out, nil
	}
	written := map[string][]TokenChange{}
	write := func(c SecretColumn, changes []TokenChange) (int, error) {
		written[c.Table] = append(written[c.Table], changes...)
		return len(changes), nil
	}
	jobs, runs, err := RewriteSecrets(page, write, func(tok string) (string, error) {
		if tok == "keep" {
			return tok, nil
		}
		return strings.Replace(tok, "old", "new", 1), nil
	})
	if err != nil || jobs != 1 || runs != rows {
		t.Fatalf("RewriteSecrets = %d, %d, %v; want 1, %d, nil", jobs, runs, err, rows)
	}
	if got := written["jobs"]; len(got) != 1 || got[0] != (TokenChange{ID: "b", Old: "old-b", New: "new-b"}) {
		t.Errorf("jobs changes = %+v", got)
	}
	if got := written["runs"]; len(got) != rows || got[rows-1].ID != fmt.Sprintf("r%04d", rows-1) {
		t.Errorf("runs changes: %d, want %d ending at the last row", len(got), rows)
	}
}
