package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/clock"
)

func newLimiter(t *testing.T, clk *clock.Fake, maxClients int) *auth.Limiter {
	t.Helper()
	l, err := auth.NewLimiter(auth.LimiterConfig{Burst: 3, Every: 10 * time.Second, MaxClients: maxClients, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLimiterBurstThenRefill(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newLimiter(t, clk, 0)
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("10.0.0.1")
	if ok || wait != 10*time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%s, want refused with 10s", ok, wait)
	}
	// Another client is unaffected.
	if ok, _ := l.Allow("10.0.0.2"); !ok {
		t.Fatal("another client was limited")
	}
	clk.Advance(4 * time.Second)
	if ok, wait := l.Allow("10.0.0.1"); ok || wait != 6*time.Second {
		t.Fatalf("after 4s: ok=%v wait=%s, want refused with 6s", ok, wait)
	}
	clk.Advance(6 * time.Second)
	if ok, _ := l.Allow("10.0.0.1"); !ok {
		t.Fatal("refused after earning an attempt")
	}
	if ok, _ := l.Allow("10.0.0.1"); ok {
		t.Fatal("one earned attempt allowed two")
	}
	// A long pause refills to the burst, not beyond it.
	clk.Advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("after an hour, attempt %d refused", i+1)
		}
	}
	if ok, _ := l.Allow("10.0.0.1"); ok {
		t.Fatal("refill went beyond the burst")
	}
}

func TestLimiterReset(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newLimiter(t, clk, 0)
	for range 3 {
		l.Allow("a")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("not limited")
	}
	l.Reset("a")
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("still limited after Reset")
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newLimiter(t, clk, 10)
	// An attacker rotating addresses: each empties its bucket.
	for i := range 25 {
		key := fmt.Sprintf("client-%d", i)
		for range 3 {
			l.Allow(key)
		}
		clk.Advance(time.Millisecond)
	}
	if n := l.Len(); n > 10 {
		t.Fatalf("tracking %d clients, bound is 10", n)
	}
	// The most recent client is still remembered and limited.
	if ok, _ := l.Allow("client-24"); ok {
		t.Fatal("most recent client forgotten")
	}
	// The least recent ones were evicted.
	if ok, _ := l.Allow("client-0"); !ok {
		t.Fatal("oldest client should have been evicted and start afresh")
	}
}

func TestLimiterEvictsIdleClientsFirst(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newLimiter(t, clk, 3)
	l.Allow("idle") // will refill completely
	clk.Advance(time.Second)
	for _, k := range []string{"busy-1", "busy-2"} {
		for range 3 {
			l.Allow(k)
		}
	}
	clk.Advance(20 * time.Second) // idle has refilled to 3; busy ones have 2 of 3
	l.Allow("new")
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	// busy-1 kept its state: two attempts left, not three.
	l.Allow("busy-1")
	l.Allow("busy-1")
	if ok, _ := l.Allow("busy-1"); ok {
		t.Fatal("busy-1 was evicted instead of the idle client")
	}
}

func TestNewLimiterRejectsNegativeSettings(t *testing.T) {
	t.Parallel()
	for _, cfg := range []auth.LimiterConfig{{Burst: -1}, {Every: -time.Second}, {MaxClients: -1}} {
		if _, err := auth.NewLimiter(cfg); err == nil {
			t.Errorf("NewLimiter(%+v) accepted", cfg)
		}
	}
}
