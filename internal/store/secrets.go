package store

import (
	"fmt"

	"github.com/connecthub/connecthub"
)

// The rules of SecretTokens and SecretsRewrite that do not depend on the
// database: where tokens live, how the walk pages, and what a rewrite may
// answer.

// SecretColumn names a column that holds secret tokens.
type SecretColumn struct {
	Kind   string // as SecretTokens reports it
	Table  string
	Column string
}

// SecretColumns are all the places a token is stored, in walk order (jobs
// first).
var SecretColumns = [...]SecretColumn{
	{SecretKindJob, "jobs", "secret_cfg"},
	{SecretKindRun, "runs", "snapshot_secret"},
	{SecretKindChannel, "notify_channels", "secret"},
	{SecretKindRunLogHeld, "run_log_held", "token"},
	{SecretKindRevision, "job_revisions", "secret_cfg"},
}

// SecretPageSize bounds how many tokens a driver holds in memory at once
// and how many rows one write of a rewrite changes.
const SecretPageSize = 500

// CheckSecretTokens checks SecretTokens' function.
func CheckSecretTokens(fn func(kind, id, token string) error) error {
	if fn == nil {
		return connecthub.FieldError("fn", "", "SecretTokens needs a function to call")
	}
	return nil
}

// CheckSecretsRewrite checks SecretsRewrite's function.
func CheckSecretsRewrite(rewrite func(token string) (string, error)) error {
	if rewrite == nil {
		return connecthub.FieldError("rewrite", "", "SecretsRewrite needs a rewrite function")
	}
	return nil
}

// WalkPages walks a column page by page in id order: page reads the
// non-empty tokens after the id it is given ("" for the first page), at
// most SecretPageSize, handles them, and returns how many it read and the
// last id. The walk ends after a short page.
func WalkPages(page func(after string) (n int, last string, err error)) error {
	for after := ""; ; {
		n, last, err := page(after)
		if err != nil || n < SecretPageSize {
			return err
		}
		after = last
	}
}

// RewriteToken calls rewrite on one token of the row kind/id and checks
// its answer: an error is returned wrapped with where the token lives
// (never the token itself), and an empty answer is KindInvalid, so a
// secret is never dropped by accident.
func RewriteToken(kind, id, token string, rewrite func(string) (string, error)) (string, error) {
	next, err := rewrite(token)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", kind, id, err)
	}
	if next == "" {
		return "", connecthub.Errorf(connecthub.KindInvalid,
			"%s %s: the rewrite of its secret token is empty; a secret is never dropped by a rewrite", kind, id)
	}
	return next, nil
}

// StoredToken is one secret token and the id of its row.
type StoredToken struct {
	ID    string `db:"id"`
	Token string `db:"token"`
}

// SecretPage is the driver's read of a walk: the next page of non-empty
// tokens of c after the row id after ("" for the first page), in id order,
// at most SecretPageSize.
type SecretPage func(c SecretColumn, after string) ([]StoredToken, error)

// walkColumn walks one column page by page and calls fn on each page.
func walkColumn(c SecretColumn, page SecretPage, fn func([]StoredToken) error) error {
	return WalkPages(func(after string) (int, string, error) {
		p, err := page(c, after)
		if err != nil || len(p) == 0 {
			return 0, "", err
		}
		if err := fn(p); err != nil {
			return 0, "", err
		}
		return len(p), p[len(p)-1].ID, nil
	})
}

// WalkSecretTokens is SecretTokens' walk, written once: every column of
// SecretColumns in order, each page by page, fn called on every token.
// The driver runs it in one snapshot.
func WalkSecretTokens(page SecretPage, fn func(kind, id, token string) error) error {
	for _, c := range SecretColumns {
		err := walkColumn(c, page, func(p []StoredToken) error {
			for _, t := range p {
				if err := fn(c.Kind, t.ID, t.Token); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TokenChange is one rewritten token: its row, the token the rewrite saw
// and the token to store instead.
type TokenChange struct{ ID, Old, New string }

// RewriteSecrets is SecretsRewrite's walk, written once: every column of
// SecretColumns in order, page by page, each token through RewriteToken;
// the tokens the rewrite changed go to write, which stores each only
// where the column still holds Old (so a secret changed meanwhile keeps
// its new value) and returns how many rows it changed. It returns the
// counts of the jobs and the runs columns. The driver runs it in one
// write transaction, so a failure anywhere leaves every token as it was.
func RewriteSecrets(page SecretPage, write func(c SecretColumn, changes []TokenChange) (int, error),
	rewrite func(token string) (string, error)) (jobs, runs int, err error) {
	if err := CheckSecretsRewrite(rewrite); err != nil {
		return 0, 0, err
	}
	var counts [len(SecretColumns)]int
	for i, c := range SecretColumns {
		err := walkColumn(c, page, func(p []StoredToken) error {
			var changes []TokenChange
			for _, t := range p {
				next, err := RewriteToken(c.Kind, t.ID, t.Token, rewrite)
				if err != nil {
					return err
				}
				if next != t.Token {
					changes = append(changes, TokenChange{ID: t.ID, Old: t.Token, New: next})
				}
			}
			if len(changes) == 0 {
				return nil
			}
			n, err := write(c, changes)
			counts[i] += n
			return err
		})
		if err != nil {
			return 0, 0, err
		}
	}
	return counts[0], counts[1], nil
}

// MetaKeyCheck names the key check's row in the meta table, where a
// database keeps facts about itself.
const MetaKeyCheck = "key_check"

// maxKeyCheckLen bounds a key check: a token of a short known text is a
// few hundred characters, so anything much longer is not one.
const maxKeyCheckLen = 4096

// CheckKeyCheck checks a key check to be stored. The store never decrypts
// it; it only refuses what cannot be a token: an empty value (a database
// with an empty check would look like one without any) or an overlong one.
func CheckKeyCheck(token string) error {
	switch {
	case token == "":
		return connecthub.FieldError("key_check", "", "the key check is required")
	case len(token) > maxKeyCheckLen:
		return connecthub.FieldError("key_check", "", "the key check is longer than %d characters; it is not a Fernet token of the check text", maxKeyCheckLen)
	}
	return nil
}
