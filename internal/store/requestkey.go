package store

import (
	"context"

	"github.com/connecthub/connecthub"
)

// RequestKeyStore finds the run that a run-now request with an
// Idempotency-Key made.
//
// The rule it serves is RunInsert's: a run whose RunMeta.RequestKey is set
// is refused (KindConflict, code run_exists) when its job already has a
// run with that key, so two requests with one key never make two runs,
// even when they race. What a retried request gets instead is decided by
// the service (the run found here, or a refusal when the request differs).
type RequestKeyStore interface {
	// RunByRequestKey returns the run of job jobID that was made with the
	// Idempotency-Key key, without its secret token; KindNotFound when
	// there is none (a key is forgotten with its run, when retention or a
	// purge deletes it).
	RunByRequestKey(ctx context.Context, jobID, key string) (*connecthub.Run, error)
}

// CheckRequestKeyLookup checks the arguments of RunByRequestKey.
func CheckRequestKeyLookup(jobID, key string) error {
	if key == "" {
		return connecthub.FieldError(connecthub.RequestKeyField, connecthub.RequestKeyInvalid, "%s must not be empty", connecthub.RequestKeyField)
	}
	return connecthub.CheckRequestKey(key)
}

// RequestKeyMissing is RunByRequestKey's answer when no run has the key.
func RequestKeyMissing(jobID string) error {
	return &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_found",
		Message: "job " + jobID + " has no run made with this " + connecthub.RequestKeyField}
}
