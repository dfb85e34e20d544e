package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store"
)

// RotateSecrets is `connecthub secrets rotate`: it re-encrypts every
// stored secret with the first key of the key file.
func RotateSecrets(ctx context.Context, std Streams, cfg *config.Config, dryRun bool) error {
	keys, _, err := readKeyFile(cfg.FernetKeyPath)
	if err != nil {
		return err
	}
	st, err := openExistingStore(ctx, std, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	// Check everything before writing anything: the census names every
	// secret that cannot be rotated, where SecretsRewrite would stop at
	// the first.
	census, err := takeCensus(ctx, st, keys)
	if err != nil {
		return err
	}
	if err := census.err(keys.Source(), "nothing was changed; add the missing key to the key file "+
		"(below the first) or re-enter those jobs' secrets, and delete runs whose snapshot secrets are lost"); err != nil {
		return err
	}
	if census.stale == 0 && !census.checkStale {
		fmt.Fprintf(std.Stdout, "nothing to rotate: all %s already use the first key of %s\n",
			census.describe(), keys.Source())
		return nil
	}
	if dryRun {
		fmt.Fprintf(std.Stdout, "%d of %s%s would be re-encrypted with the first key of %s (dry run: nothing was changed)\n",
			census.stale, census.describe(), census.andCheck(), keys.Source())
		return nil
	}

	jobs, runs, err := st.SecretsRewrite(ctx, rotator(keys))
	if err != nil {
		return fmt.Errorf("secrets rotate: %w (nothing was changed)", err)
	}
	// The key check follows the secrets, so that a start with the older
	// keys removed from the key file passes it. Should this write fail,
	// the old check still verifies with the key file as it is, and
	// running the rotation again finishes the job.
	if census.checkStale {
		check, err := keys.NewCheck()
		if err == nil {
			err = st.KeyCheckSet(ctx, check)
		}
		if err != nil {
			return fmt.Errorf("secrets rotate: the secrets were re-encrypted, but the key check was not: %w; "+
				"run the rotation again before removing older keys from the key file", err)
		}
	}
	fmt.Fprintf(std.Stdout, "re-encrypted %s and %s%s with the first key of %s\n",
		plural(jobs, "job secret"), plural(runs, "run secret"), census.andCheck(), keys.Source())
	fmt.Fprintln(std.Stdout, "once every server has been restarted with this key file, the older keys may be removed "+
		"from it; keep them with backups made before now, which still need them")
	return nil
}

// rotator returns the rewrite function of a rotation: a token made with an
// older key is re-encrypted with the first one (keeping its timestamp), a
// current token is only checked, and one that no key decrypts is an error
// (which aborts the rewrite). Runs copy their job's token, so the same
// token comes up many times: it is rotated once, and every copy gets the
// same new token.
func rotator(keys *secret.Keyring) func(string) (string, error) {
	const maxCached = 10000 // bounds the memory, not correctness
	done := make(map[string]string)
	return func(token string) (string, error) {
		if next, ok := done[token]; ok {
			return next, nil
		}
		next := token
		if keys.NeedsRotation(token) {
			var err error
			if next, err = keys.Rotate(token); err != nil {
				return "", err
			}
		} else if _, err := keys.Decrypt(token); err != nil {
			return "", err
		}
		if len(done) < maxCached {
			done[token] = next
		}
		return next, nil
	}
}

// maxBadListed is how many undecryptable secrets an error names.
const maxBadListed = 5

// secretCensus counts the stored secrets and checks each against a keyring,
// and the key check with them.
type secretCensus struct {
	jobs, runs int      // tokens stored (runs: every kind but jobs and revisions)
	revisions  int      // tokens the jobs' revisions keep
	stale      int      // tokens made with a key other than the first
	bad        []string // "job ID (reason)", the first maxBadListed
	badCount   int
	checkStale bool // the key check was made with a key other than the first
}

// takeCensus decrypts every token in st and the key check with keys. A key
// check that does not verify counts as a bad secret: a key file that fails
// it would be refused by the next start.
func takeCensus(ctx context.Context, st store.SecretStore, keys *secret.Keyring) (*secretCensus, error) {
	c := &secretCensus{}
	check, err := st.KeyCheck(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the key check: %w", err)
	}
	if check != "" {
		if err := keys.VerifyCheck(check); err != nil {
			c.badCount++
			c.bad = append(c.bad, "the key check ("+decryptFailure(err)+")")
		} else {
			c.checkStale = keys.NeedsRotation(check)
		}
	}
	// Runs copy their job's token, so most tokens come up many times;
	// each is decrypted once (up to a bound on the memory spent).
	const maxRemembered = 10000
	good := make(map[string]bool) // decrypted token → made with an older key
	err = st.SecretTokens(ctx, func(kind, id, token string) error {
		switch kind {
		case store.SecretKindJob:
			c.jobs++
		case store.SecretKindRevision:
			c.revisions++
		default:
			c.runs++
		}
		if stale, ok := good[token]; ok {
			if stale {
				c.stale++
			}
			return nil
		}
		if _, err := keys.Decrypt(token); err != nil {
			c.badCount++
			if len(c.bad) < maxBadListed {
				c.bad = append(c.bad, fmt.Sprintf("%s %s (%s)", kind, id, decryptFailure(err)))
			}
			return nil
		}
		stale := keys.NeedsRotation(token)
		if stale {
			c.stale++
		}
		if len(good) < maxRemembered {
			good[token] = stale
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the stored secrets: %w", err)
	}
	return c, nil
}

// err is nil when every secret decrypted, else an error naming the first
// ones that did not (never the tokens) and ending with advice.
func (c *secretCensus) err(keySource, advice string) error {
	if c.badCount == 0 {
		return nil
	}
	list := strings.Join(c.bad, ", ")
	if more := c.badCount - len(c.bad); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Errorf("%s of %s cannot be decrypted with the key(s) in %s: %s; %s",
		plural(c.badCount, "secret"), c.describe(), keySource, list, advice)
}

// describe says how many secrets were counted, e.g. "2 job secrets and 5
// run secrets" (and the revisions' secrets, when there are any).
func (c *secretCensus) describe() string {
	if c.revisions > 0 {
		return plural(c.jobs, "job secret") + ", " + plural(c.runs, "run secret") + " and " + plural(c.revisions, "revision secret")
	}
	return plural(c.jobs, "job secret") + " and " + plural(c.runs, "run secret")
}

// total is how many tokens were counted.
func (c *secretCensus) total() int { return c.jobs + c.runs + c.revisions }

// andCheck is ", and the key check" when the rotation rewrites it, so
// that the report names everything it changed.
func (c *secretCensus) andCheck() string {
	if c.checkStale {
		return ", and the key check"
	}
	return ""
}

// decryptFailure names why a token did not decrypt, in a few words.
func decryptFailure(err error) string {
	switch {
	case errors.Is(err, secret.ErrWrongKey):
		return "made with a key that is not in the key file"
	case errors.Is(err, secret.ErrTruncated):
		return "the token is truncated"
	case errors.Is(err, secret.ErrMalformed):
		return "not a Fernet token"
	case errors.Is(err, secret.ErrCheckFailed):
		return "it decrypts to something other than the check text"
	default:
		return err.Error()
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// maxKeyFileBytes bounds what readKeyFile reads: a key file holds a few
// 44-character lines.
const maxKeyFileBytes = 1 << 20

// readKeyFile reads and parses the key file for a command that works on
// secrets already stored. Unlike serve it never creates the file, since a
// new key would decrypt none of them. It returns the file's bytes too, for
// backups to keep it exactly as it is.
func readKeyFile(path string) (*secret.Keyring, []byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("the Fernet key file %s does not exist (CONNECTHUB_FERNET_KEY_PATH); "+
			"stored secrets can only be read with the key they were encrypted with", path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the Fernet key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the Fernet key file: %w", err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, nil, fmt.Errorf("the Fernet key file %s is larger than %d bytes; is it the right file?", path, maxKeyFileBytes)
	}
	keys, err := secret.Parse(string(data), path)
	if err != nil {
		return nil, nil, err
	}
	return keys, data, nil
}

// openExistingStore opens the configured database for a maintenance
// command. A SQLite file must already exist: opening would otherwise
// create an empty database, and the command would report on nothing.
func openExistingStore(ctx context.Context, std Streams, cfg *config.Config) (store.Store, error) {
	if cfg.DBDriver() == config.DriverSQLite {
		if err := requireSQLiteFile(cfg.SQLitePath()); err != nil {
			return nil, err
		}
	}
	log := slog.New(slog.NewTextHandler(std.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return server.OpenStore(ctx, cfg, log)
}

// requireSQLiteFile fails unless the database file exists.
func requireSQLiteFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("there is no database at %s; check --data-dir or CONNECTHUB_DB_URL", path)
	}
	if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("the database %s is not a regular file", path)
	}
	return nil
}
