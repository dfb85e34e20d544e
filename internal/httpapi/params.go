package httpapi

import (
	"strconv"
	"strings"
	"time"
)

// Page size bounds of every list endpoint.
const (
	defaultLimit = 50
	maxLimit     = 500
)

func parseLimit(v string) (int, error) {
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalid("limit", "limit must be an integer between 1 and %d", maxLimit)
	}
	return n, nil
}

func parseBool(field, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid(field, "%s must be true or false", field)
	}
	return b, nil
}

// parseTime accepts RFC 3339 times, with or without fractional seconds.
func parseTime(field, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return nil, invalid(field, "%s must be an RFC 3339 time like 2026-01-02T15:04:05Z", field)
	}
	return &t, nil
}
