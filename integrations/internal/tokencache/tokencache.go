// Package tokencache holds one access token for an API client: it fetches the
// token when there is none or it has expired, shares a single fetch among
// concurrent callers, and lets a caller whose request was rejected replace
// exactly the token it used.
//
// The integration clients (Seeyon, Didi) use it so that a burst of requests
// after start-up, or after the server revoked a token, costs one login
// instead of one per request: many logins in a row are slow, and some
// servers throttle or lock accounts that log in too often.
package tokencache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Token is a token value and when it stops being usable.
type Token struct {
	// Value is the token itself; it must not be empty.
	Value string
	// Expiry is the instant from which the cache no longer hands the token
	// out. The zero time means the token is kept until a caller reports it
	// rejected.
	Expiry time.Time
}

// FetchFunc obtains a new token (logs in).
type FetchFunc func(ctx context.Context) (Token, error)

// Cache is a token shared by the callers of one client. It is safe for
// concurrent use.
type Cache struct {
	fetch   FetchFunc
	now     func() time.Time
	timeout time.Duration

	mu     sync.Mutex
	token  Token
	flight *flight // the fetch in progress, nil when none

	// onWait, when set (by tests only), is called each time a caller starts
	// waiting for a fetch, so a test can tell that callers have piled up.
	onWait func()
}

// flight is one fetch that several callers wait for.
type flight struct {
	done  chan struct{} // closed when token and err are set
	token Token
	err   error
}

// New returns an empty cache that obtains tokens with fetch. now is the
// clock used for expiry (nil means time.Now). timeout bounds one fetch
// (zero means no bound beyond the one the fetch sets itself): a fetch runs
// detached from the context of the caller that started it, so that the
// caller giving up does not fail the other callers waiting for the same
// token.
func New(fetch FetchFunc, now func() time.Time, timeout time.Duration) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, now: now, timeout: timeout}
}

// Get returns the cached token if it is still valid, else fetches a new
// one (joining a fetch already in progress).
func (c *Cache) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.validLocked() {
		v := c.token.Value
		c.mu.Unlock()
		return v, nil
	}
	f := c.startLocked(ctx)
	c.mu.Unlock()
	return c.wait(ctx, f)
}

// Refresh replaces a token that the server rejected. stale is the token the
// caller used: if the cache already holds a different valid token (another
// caller refreshed it meanwhile), that token is returned without a fetch;
// otherwise the cache fetches a new one, or joins the fetch in progress. An
// empty stale forces a new token, as a "check the credentials" login wants.
func (c *Cache) Refresh(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	if f := c.flight; f != nil {
		c.mu.Unlock()
		return c.wait(ctx, f)
	}
	if stale != "" && c.token.Value != stale && c.validLocked() {
		v := c.token.Value
		c.mu.Unlock()
		return v, nil
	}
	c.token = Token{}
	f := c.startLocked(ctx)
	c.mu.Unlock()
	return c.wait(ctx, f)
}

// Invalidate forgets the token if it is still stale, so that the next Get
// fetches a new one. A token that has already been replaced is kept.
func (c *Cache) Invalidate(stale string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token.Value == stale {
		c.token = Token{}
	}
}

// validLocked reports whether the cached token may be handed out.
func (c *Cache) validLocked() bool {
	if c.token.Value == "" {
		return false
	}
	return c.token.Expiry.IsZero() || c.now().Before(c.token.Expiry)
}

// startLocked returns the fetch in progress, starting one if there is none.
// c.mu must be held.
func (c *Cache) startLocked(ctx context.Context) *flight {
	if c.flight != nil {
		return c.flight
	}
	f := &flight{done: make(chan struct{})}
	c.flight = f
	// The fetch keeps the caller's context values (for tracing) but not its
	// cancellation: other callers may be waiting for it.
	fctx := context.WithoutCancel(ctx)
	go func() {
		cancel := context.CancelFunc(func() {})
		if c.timeout > 0 {
			fctx, cancel = context.WithTimeout(fctx, c.timeout)
		}
		defer cancel()
		tok, err := c.fetch(fctx)
		if err == nil && tok.Value == "" {
			err = errors.New("the server returned an empty token")
		}
		c.mu.Lock()
		if err == nil {
			c.token = tok
		}
		c.flight = nil
		c.mu.Unlock()
		f.token, f.err = tok, err
		close(f.done)
	}()
	return f
}

// wait returns the result of f, or ctx's error if ctx ends first.
func (c *Cache) wait(ctx context.Context, f *flight) (string, error) {
	if c.onWait != nil {
		c.onWait()
	}
	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		return f.token.Value, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
