package client

import (
	"context"
	"fmt"
	"net/http"
)

// ErrBadProbeURL wraps a probe URL that cannot make a request, so a
// caller can tell a mistake in its own input from a server that is down.
type ErrBadProbeURL struct{ Err error }

func (e *ErrBadProbeURL) Error() string { return e.Err.Error() }
func (e *ErrBadProbeURL) Unwrap() error { return e.Err }

// Probe asks a health endpoint (such as http://127.0.0.1:8000/health/ready)
// whether the server is ready: nil on 200, otherwise why not. It needs no
// token and uses http.DefaultClient, so that it works before any
// configuration, as a container's health check does; ctx bounds it.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &ErrBadProbeURL{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
