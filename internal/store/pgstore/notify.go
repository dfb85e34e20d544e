package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connecthub/connecthub/internal/store"
)

// Notifications cross replicas on one PostgreSQL channel per topic. The
// payload is "<instance> <schema>": a listener ignores notifications of
// other schemas (other installations or tests sharing the database) and its
// own store's, which that store already published in-process when its
// transaction committed.
var channels = map[store.Topic]string{
	store.TopicRuns:   "connecthub_runs",
	store.TopicJobs:   "connecthub_jobs",
	store.TopicCancel: "connecthub_cancel",
}

// allTopics lists the topics in a fixed order.
var allTopics = []store.Topic{store.TopicRuns, store.TopicJobs, store.TopicCancel}

// notifySQL is the statement that queues a notification in the current
// transaction; PostgreSQL delivers it when (and only if) that commits.
const notifySQL = `SELECT pg_notify($1, $2)`

// notifyArgs returns the arguments of notifySQL for topic.
func (s *Store) notifyArgs(topic store.Topic) []any {
	return []any{channels[topic], s.instance + " " + s.schema}
}

// queueNotify adds the notification of topic to a batch.
func (s *Store) queueNotify(b *pgx.Batch, topic store.Topic) {
	b.Queue(notifySQL, s.notifyArgs(topic)...)
}

// notify queues the notification of topic in tx.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, topic store.Topic) error {
	_, err := tx.Exec(ctx, notifySQL, s.notifyArgs(topic)...)
	return dbErr(err)
}

// Timings of the listener.
const (
	// listenIdleCheck is how long the listener waits for a notification
	// before it pings the server: a connection that died without a word (a
	// network partition, a failover) is noticed within this time.
	listenIdleCheck = 30 * time.Second
	// listenPingTimeout bounds that ping.
	listenPingTimeout = 10 * time.Second
	// Reconnects back off exponentially between these bounds. The first
	// retry after a loss is immediate: most losses are one connection
	// killed (an idle timeout, pg_terminate_backend), not the server.
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// listenState is the listener's connection as seen from outside: the
// backend's process id (0 while disconnected), how many times it connected
// or disconnected, and how many idle checks it passed, with a channel
// closed at each change so that tests wait on it instead of sleeping.
type listenState struct {
	mu      sync.Mutex
	cur     listenSnapshot
	changed chan struct{}
}

// listenSnapshot is the listenState at one moment.
type listenSnapshot struct {
	pid   uint32 // backend process id, 0 while disconnected
	gen   uint64 // connects plus disconnects
	pings uint64 // idle checks passed
}

// update changes the state with fn and wakes the waiters.
func (l *listenState) update(fn func(*listenSnapshot)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.cur)
	if l.changed != nil {
		close(l.changed)
	}
	l.changed = make(chan struct{})
}

func (l *listenState) connected(pid uint32) {
	l.update(func(s *listenSnapshot) { s.pid = pid; s.gen++ })
}

func (l *listenState) pinged() { l.update(func(s *listenSnapshot) { s.pings++ }) }

// get returns the current state and a channel that is closed when it next
// changes.
func (l *listenState) get() (listenSnapshot, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.cur, l.changed
}

// connectListener opens the listener's own connection (it cannot come from
// the pool: LISTEN belongs to a session that must stay open) and subscribes
// to every channel.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenCfg)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, topic := range allTopics {
		b.WriteString("LISTEN " + pgx.Identifier{channels[topic]}.Sanitize() + ";")
	}
	if _, err := conn.Exec(ctx, b.String()); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		conn.Close(cctx)
		return nil, err
	}
	s.listenState.connected(conn.PgConn().PID())
	return conn, nil
}

// listen re-publishes notifications from conn into the Hub until ctx ends,
// reconnecting with back-off whenever the connection is lost. After a
// reconnect it publishes every topic, since notifications sent while it was
// away are gone: waiters look again, which is what a notification asks.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.listenerDone)
	for {
		err := s.receive(ctx, conn)
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		conn.Close(cctx)
		cancel()
		s.listenState.connected(0)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("PostgreSQL notification listener lost its connection; reconnecting", "err", err)

		backoff := time.Duration(0)
		for {
			if backoff > 0 {
				timer := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
			conn, err = s.connectListener(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, listenMinBackoff), listenMaxBackoff)
			s.log.Warn("PostgreSQL notification listener cannot reconnect", "err", err, "retry_in", backoff)
		}
		s.log.Info("PostgreSQL notification listener reconnected")
		for _, topic := range allTopics {
			s.Publish(topic)
		}
	}
}

// receive dispatches the notifications of conn until the connection fails
// or ctx ends, and returns why it stopped.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.idleCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			s.dispatch(n)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !conn.IsClosed() && (pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)):
			// Quiet for a while: make sure the connection is still alive.
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			s.listenState.pinged()
			continue
		}
		return err
	}
}

// dispatch publishes one notification's topic if it comes from another
// store in this store's schema.
func (s *Store) dispatch(n *pgconn.Notification) {
	instance, schema, ok := strings.Cut(n.Payload, " ")
	if !ok || schema != s.schema || instance == s.instance {
		return
	}
	for topic, channel := range channels {
		if channel == n.Channel {
			s.Publish(topic)
			return
		}
	}
}
