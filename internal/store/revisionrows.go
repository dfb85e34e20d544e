package store

import (
	"time"

	"github.com/connecthub/connecthub"
)

// Scanner is what both drivers' rows offer: pgx.Row and pgx.Rows, sql.Row
// and sql.Rows. The row scanners written once take it.
type Scanner interface {
	Scan(dest ...any) error
}

// ScanRevision reads a row of the drivers' revision columns (job_id,
// revision, action, actor, actor_kind, source, at, definition, secret_keys,
// secret_fingerprint), and secret_cfg after them when withSecret. T is how
// the dialect stores a time, toTime what turns it into a UTC time.
func ScanRevision[T any](sc Scanner, withSecret bool, toTime func(T) time.Time) (*connecthub.Revision, error) {
	r := &connecthub.Revision{}
	var (
		at        T
		def       string
		keys, fp  string
		secretCfg string
	)
	dest := []any{&r.JobID, &r.Revision, &r.Action, &r.Actor, &r.ActorKind, &r.Source, &at, &def, &keys, &fp}
	if withSecret {
		dest = append(dest, &secretCfg)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	r.At, r.Definition, r.SecretCfg = toTime(at), []byte(def), secretCfg
	return r, DecodeRevisionSecrets(r, []byte(keys), []byte(fp))
}

// RevisionRow is a revision as the drivers insert it.
type RevisionRow struct {
	Key         string // RevisionKey(job, number), the row's id
	Keys, Print string // EncodeRevisionSecrets
}

// WriteRevision is how a driver writes a revision, written once: rev is
// checked (CheckRevision), next takes the job's next number (an upsert of
// its head row that holds it locked, so concurrent writers get consecutive
// numbers and an aborted one leaves no gap), rev gets that number and its
// time truncated as stored, and insert writes the row.
func WriteRevision(rev *connecthub.Revision, next func(jobID string) (int, error), insert func(rev *connecthub.Revision, row RevisionRow) error) error {
	if err := CheckRevision(rev); err != nil {
		return err
	}
	keys, fp, err := EncodeRevisionSecrets(rev)
	if err != nil {
		return err
	}
	n, err := next(rev.JobID)
	if err != nil {
		return err
	}
	rev.Revision = n
	rev.At = UTCMicro(rev.At)
	return insert(rev, RevisionRow{Key: RevisionKey(rev.JobID, n), Keys: keys, Print: fp})
}
