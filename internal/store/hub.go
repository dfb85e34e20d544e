package store

import "sync"

// Hub is an in-process Notifier that drivers embed: Publish wakes every
// subscriber of a topic without ever blocking the publisher (each subscriber
// has a buffer of one, so bursts coalesce into one wake-up).
type Hub struct {
	mu   sync.Mutex
	subs map[Topic]map[*chan struct{}]struct{}
}

// Subscribe implements Notifier.
func (h *Hub) Subscribe(topic Topic) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[Topic]map[*chan struct{}]struct{})
	}
	if h.subs[topic] == nil {
		h.subs[topic] = make(map[*chan struct{}]struct{})
	}
	h.subs[topic][&ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[topic], &ch)
			h.mu.Unlock()
		})
	}
}

// Publish wakes the subscribers of topic.
func (h *Hub) Publish(topic Topic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[topic] {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}
