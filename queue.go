package connecthub

import "time"

// PausedQueue is a queue an operator paused: workers claim nothing from it
// until it is resumed, so its runs wait QUEUED (and count in its depth).
type PausedQueue struct {
	Name     string    `json:"name"`
	PausedAt time.Time `json:"paused_at"`
	PausedBy string    `json:"paused_by,omitempty"`
}

// ValidateQueueName checks a queue's name: 1–64 characters of
// [A-Za-z0-9._:-], the rule a job's queue follows.
func ValidateQueueName(field, name string) error {
	if name == "" || len(name) > maxQueueLen || !queuePattern.MatchString(name) {
		return FieldError(field, "", "%s must be 1-%d characters of A-Z a-z 0-9 . _ : -", field, maxQueueLen)
	}
	return nil
}
