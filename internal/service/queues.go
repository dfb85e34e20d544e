package service

import (
	"context"
	"sort"

	"github.com/connecthub/connecthub"
)

// QueueView is a queue as operators see it: its depth and age from the
// stats, and whether it is paused.
type QueueView struct {
	connecthub.QueueStats
	Pause *connecthub.PausedQueue `json:"pause,omitempty"`
}

// QueuePause pauses a queue: workers claim nothing from it until it is
// resumed; its runs stay QUEUED. It reports whether it was running.
func (s *Service) QueuePause(ctx context.Context, name, by string) (bool, error) {
	return s.st.QueuePause(s.Audited(ctx, "queue.pause", "queue:"+name), name, by, s.now())
}

// QueueResume resumes a paused queue; it reports whether it was paused.
func (s *Service) QueueResume(ctx context.Context, name string) (bool, error) {
	if err := connecthub.ValidateQueueName("queue", name); err != nil {
		return false, err
	}
	return s.st.QueueResume(s.Audited(ctx, "queue.resume", "queue:"+name), name)
}

// Queues lists the queues that have waiting runs or are paused, by name.
func (s *Service) Queues(ctx context.Context) ([]QueueView, error) {
	st, err := s.Stats(ctx)
	if err != nil {
		return nil, err
	}
	paused, err := s.st.QueuePausedList(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*QueueView{}
	out := make([]QueueView, 0, len(st.Queues)+len(paused))
	for _, q := range st.Queues {
		out = append(out, QueueView{QueueStats: q})
	}
	for i := range out {
		byName[out[i].Queue] = &out[i]
	}
	for i := range paused {
		p := paused[i]
		if v, ok := byName[p.Name]; ok {
			v.Paused, v.Pause = true, &p
			continue
		}
		out = append(out, QueueView{QueueStats: connecthub.QueueStats{Queue: p.Name, Paused: true}, Pause: &p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out, nil
}

// markPaused sets Paused on the stats' queues that are paused.
func (s *Service) markPaused(ctx context.Context, st *connecthub.Stats) error {
	paused, err := s.st.QueuePausedList(ctx)
	if err != nil || len(paused) == 0 {
		return err
	}
	set := make(map[string]bool, len(paused))
	for _, p := range paused {
		set[p.Name] = true
	}
	for i := range st.Queues {
		st.Queues[i].Paused = set[st.Queues[i].Queue]
	}
	return nil
}
