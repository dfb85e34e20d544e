package tokencache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClock is a settable time source.
func newClock() *clock.Fake { return testenv.ClockAt(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)) }

// counter is a fetch function that issues "tok-1", "tok-2", ... with a
// fixed lifetime (zero: no expiry).
type counter struct {
	calls    atomic.Int32
	lifetime time.Duration
	clock    *clock.Fake
}

func (f *counter) fetch(context.Context) (Token, error) {
	n := f.calls.Add(1)
	tok := Token{Value: fmt.Sprintf("tok-%d", n)}
	if f.lifetime > 0 {
		tok.Expiry = f.clock.Now().Add(f.lifetime)
	}
	return tok, nil
}

func TestGetCachesUntilExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lifetime time.Duration
		advance  time.Duration
		want     string // the token after advancing the clock
		calls    int32
	}{
		{name: "still valid", lifetime: time.Minute, advance: 59 * time.Second, want: "tok-1", calls: 1},
		{name: "expired exactly", lifetime: time.Minute, advance: time.Minute, want: "tok-2", calls: 2},
		{name: "long expired", lifetime: time.Minute, advance: time.Hour, want: "tok-2", calls: 2},
		{name: "no expiry", lifetime: 0, advance: 1000 * time.Hour, want: "tok-1", calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			f := &counter{lifetime: tt.lifetime, clock: clk}
			c := New(f.fetch, clk.Now, time.Second)
			for range 3 {
				if got, err := c.Get(t.Context()); err != nil || got != "tok-1" {
					t.Fatalf("Get = %q, %v; want tok-1", got, err)
				}
			}
			clk.Advance(tt.advance)
			if got, err := c.Get(t.Context()); err != nil || got != tt.want {
				t.Fatalf("Get after %v = %q, %v; want %q", tt.advance, got, err, tt.want)
			}
			if got := f.calls.Load(); got != tt.calls {
				t.Errorf("fetched %d times, want %d", got, tt.calls)
			}
		})
	}
}

func TestRefreshAndInvalidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		op    func(c *Cache) (string, error) // run after the cache holds tok-1
		want  string                         // the token the next Get returns
		calls int32
	}{
		{
			name:  "refresh the stale token",
			op:    func(c *Cache) (string, error) { return c.Refresh(context.Background(), "tok-1") },
			want:  "tok-2",
			calls: 2,
		},
		{
			name:  "refresh a token already replaced",
			op:    func(c *Cache) (string, error) { return c.Refresh(context.Background(), "tok-0") },
			want:  "tok-1",
			calls: 1,
		},
		{
			name:  "forced refresh",
			op:    func(c *Cache) (string, error) { return c.Refresh(context.Background(), "") },
			want:  "tok-2",
			calls: 2,
		},
		{
			name:  "invalidate the stale token",
			op:    func(c *Cache) (string, error) { c.Invalidate("tok-1"); return c.Get(context.Background()) },
			want:  "tok-2",
			calls: 2,
		},
		{
			name:  "invalidate a token already replaced",
			op:    func(c *Cache) (string, error) { c.Invalidate("tok-0"); return c.Get(context.Background()) },
			want:  "tok-1",
			calls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &counter{clock: newClock()}
			c := New(f.fetch, nil, time.Second)
			if _, err := c.Get(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, err := tt.op(c)
			if err != nil || got != tt.want {
				t.Fatalf("op = %q, %v; want %q", got, err, tt.want)
			}
			if got, err := c.Get(t.Context()); err != nil || got != tt.want {
				t.Fatalf("Get = %q, %v; want %q", got, err, tt.want)
			}
			if got := f.calls.Load(); got != tt.calls {
				t.Errorf("fetched %d times, want %d", got, tt.calls)
			}
		})
	}
}

// TestConcurrentCallersShareOneFetch holds the fetch until every caller is
// waiting for it, so a cache that fetched per caller would be caught.
func TestConcurrentCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	for _, refresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("refresh=%v", refresh), func(t *testing.T) {
			t.Parallel()
			const callers = 16
			release := make(chan struct{})
			var calls atomic.Int32
			c := New(func(context.Context) (Token, error) {
				calls.Add(1)
				<-release
				return Token{Value: "shared"}, nil
			}, nil, 10*time.Second)
			waiting := make(chan struct{}, callers)
			c.onWait = func() { waiting <- struct{}{} }

			results := make(chan string, callers)
			errs := make(chan error, callers)
			for range callers {
				go func() {
					var tok string
					var err error
					if refresh {
						tok, err = c.Refresh(context.Background(), "old")
					} else {
						tok, err = c.Get(context.Background())
					}
					if err != nil {
						errs <- err
						return
					}
					results <- tok
				}()
			}
			for range callers {
				<-waiting
			}
			close(release)
			for range callers {
				select {
				case tok := <-results:
					if tok != "shared" {
						t.Errorf("token = %q, want shared", tok)
					}
				case err := <-errs:
					t.Errorf("caller failed: %v", err)
				}
			}
			if got := calls.Load(); got != 1 {
				t.Errorf("fetched %d times for %d concurrent callers, want 1", got, callers)
			}
		})
	}
}

func TestFetchErrorIsNotCached(t *testing.T) {
	t.Parallel()
	boom := errors.New("login refused")
	var calls atomic.Int32
	c := New(func(context.Context) (Token, error) {
		if calls.Add(1) == 1 {
			return Token{}, boom
		}
		return Token{Value: "ok"}, nil
	}, nil, time.Second)
	if _, err := c.Get(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("first Get err = %v, want %v", err, boom)
	}
	if got, err := c.Get(t.Context()); err != nil || got != "ok" {
		t.Fatalf("second Get = %q, %v; want ok", got, err)
	}
}

func TestEmptyTokenIsAnError(t *testing.T) {
	t.Parallel()
	c := New(func(context.Context) (Token, error) { return Token{}, nil }, nil, time.Second)
	if _, err := c.Get(t.Context()); err == nil {
		t.Fatal("Get accepted an empty token")
	}
}

// TestCallerCancelDoesNotFailOthers cancels the caller that started the
// fetch: it gets its context's error, while the fetch goes on for a second
// caller.
func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	c := New(func(ctx context.Context) (Token, error) {
		<-release
		fetchCtxErr <- ctx.Err()
		return Token{Value: "late"}, nil
	}, nil, 10*time.Second)
	waiting := make(chan struct{}, 2)
	c.onWait = func() { waiting <- struct{}{} }

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx)
		first <- err
	}()
	<-waiting
	second := make(chan string, 1)
	go func() {
		tok, _ := c.Get(context.Background())
		second <- tok
	}()
	<-waiting
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller err = %v, want context.Canceled", err)
	}
	close(release)
	if tok := <-second; tok != "late" {
		t.Fatalf("second caller token = %q, want late", tok)
	}
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("the fetch's context ended with the first caller: %v", err)
	}
}

func TestTimeoutBoundsFetch(t *testing.T) {
	t.Parallel()
	c := New(func(ctx context.Context) (Token, error) {
		<-ctx.Done()
		return Token{}, ctx.Err()
	}, nil, 10*time.Millisecond)
	if _, err := c.Get(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}
