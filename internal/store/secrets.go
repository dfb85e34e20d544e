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
