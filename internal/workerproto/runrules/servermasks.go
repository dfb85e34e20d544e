package runrules

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/connecthub/connecthub/internal/runlog"
)

// DefaultServerMasksRefresh is how often ServerMasks reloads the secrets
// that change at run time when nothing told it they changed: the longest
// a channel created on another replica goes unmasked on this one.
const DefaultServerMasksRefresh = 2 * time.Second

// ServerMasks is the masker of the server's own secrets: the fixed ones
// (ServerSecrets) and those that change while the server runs, such as
// notification channels' signing secrets, SMTP passwords and URL tokens,
// which Load reads. Those are reloaded when Invalidate says they changed
// (a channel written through this process) and at least every Refresh
// (a channel written through another replica), so a run's masker, built
// when the run is claimed or when a remote worker reports, masks the
// secrets as they are then. A failed load keeps the values loaded last:
// an outage must not unmask anything. It is safe for concurrent use.
type ServerMasks struct {
	fixed   []string
	load    func(ctx context.Context) ([]string, error)
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	masker   *runlog.Masker
	loaded   []string // the values of the last successful load
	loadedAt time.Time
	stale    bool
}

// NewServerMasks returns the masks of fixed and of what load returns (nil
// for none), reloaded every refresh (DefaultServerMasksRefresh when 0).
func NewServerMasks(fixed []string, load func(ctx context.Context) ([]string, error), refresh time.Duration) *ServerMasks {
	if refresh <= 0 {
		refresh = DefaultServerMasksRefresh
	}
	m := &ServerMasks{fixed: slices.Clone(fixed), load: load, refresh: refresh, now: time.Now, stale: true}
	m.masker = runlog.NewMasker(m.fixed)
	return m
}

// FixedServerMasks returns masks of values that never change.
func FixedServerMasks(values []string) *ServerMasks {
	return NewServerMasks(values, nil, 0)
}

// Invalidate makes the next Masker reload the changing secrets.
func (m *ServerMasks) Invalidate() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.stale = true
	m.mu.Unlock()
}

// Masker returns the masker of the server's secrets as they are now,
// reloading the changing ones if they may have changed. A nil
// *ServerMasks masks nothing.
func (m *ServerMasks) Masker(ctx context.Context) *runlog.Masker {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.load == nil || (!m.stale && m.now().Sub(m.loadedAt) < m.refresh) {
		return m.masker
	}
	values, err := m.load(ctx)
	if err != nil {
		return m.masker // keep masking what was loaded last
	}
	m.stale, m.loadedAt = false, m.now()
	slices.Sort(values)
	values = slices.Compact(values)
	if !slices.Equal(values, m.loaded) {
		m.loaded = values
		m.masker = runlog.NewMasker(append(slices.Clone(m.fixed), values...))
	}
	return m.masker
}
