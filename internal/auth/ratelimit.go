package auth

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// LimiterConfig configures a Limiter. The zero value of each field takes the
// default given in its comment.
type LimiterConfig struct {
	// Burst is how many attempts a client may make at once. Default 5.
	Burst int
	// Every is how long it takes to earn one more attempt. Default 12s, so a
	// client settles at 5 attempts a minute: plenty for a person who
	// mistyped, hopeless for a password guesser.
	Every time.Duration
	// MaxClients bounds the memory the limiter uses. When it is full, idle
	// clients are forgotten first, then the least recently seen. Default 10000.
	MaxClients int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter is a token bucket per client key (the client's address). It is
// safe for concurrent use.
type Limiter struct {
	burst float64
	every time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.Burst < 0 || cfg.Every < 0 || cfg.MaxClients < 0 {
		return nil, errors.New("auth: limiter settings must not be negative")
	}
	if cfg.Burst == 0 {
		cfg.Burst = 5
	}
	if cfg.Every == 0 {
		cfg.Every = 12 * time.Second
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{burst: float64(cfg.Burst), every: cfg.Every, max: cfg.MaxClients, now: cfg.Now,
		buckets: make(map[string]*bucket)}, nil
}

// Allow takes one attempt from key's bucket. When the bucket is empty it
// returns false and how long until the next attempt is allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.every)))
	return false, wait
}

// Peek reports whether key has an attempt left, and if not how long until
// it has, without taking one. A client never seen has its full burst.
func (l *Limiter) Peek(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true, 0
	}
	if avail := l.available(b, now); avail < 1 {
		return false, time.Duration(math.Ceil((1 - avail) * float64(l.every)))
	}
	return true, 0
}

// Reset forgets key, giving it a full bucket again. The UI calls it after a
// successful login, so a person who mistyped twice is not penalised later.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

// Len returns how many clients are tracked (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = l.available(b, now)
		b.last = now
	}
}

// available is how many attempts b holds at now, without updating it.
func (l *Limiter) available(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.last)
	if elapsed <= 0 {
		return b.tokens
	}
	return math.Min(l.burst, b.tokens+float64(elapsed)/float64(l.every))
}

// makeRoom keeps the map under its bound: buckets that have refilled
// completely carry no information and go first; if none has, the least
// recently used bucket is dropped. Called with mu held, only when a new
// client arrives at a full map, so the linear scans are rare.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.max {
		return
	}
	for k, b := range l.buckets {
		if l.available(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	for len(l.buckets) >= l.max {
		var oldestKey string
		var oldest time.Time
		for k, b := range l.buckets {
			if oldestKey == "" || b.last.Before(oldest) {
				oldestKey, oldest = k, b.last
			}
		}
		delete(l.buckets, oldestKey)
	}
}

// String describes the limit, for logs and docs.
func (l *Limiter) String() string {
	return fmt.Sprintf("%d attempts at once, then one every %s", int(l.burst), l.every)
}
