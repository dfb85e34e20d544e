package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
	"github.com/connecthub/connecthub/internal/store"
)

// SenderStore is the part of the store the Sender needs.
type SenderStore interface {
	ChannelGet(ctx context.Context, name string) (*connecthub.Channel, error)
	NotificationClaim(ctx context.Context, p store.NotificationClaimParams) ([]*connecthub.Notification, error)
	NotificationRecord(ctx context.Context, r store.NotificationResult) (bool, error)
}

// Decrypter opens a channel's secret token (the server's keyring).
type Decrypter interface {
	Decrypt(token string) ([]byte, error)
}

// SenderConfig configures a Sender. Zero values take the defaults.
type SenderConfig struct {
	Store   SenderStore // required
	Keyring Decrypter   // required to send to channels with secrets
	// Owner names this replica in leases and in the delivery log.
	Owner string
	// PublicURL is where operators reach the server; messages link to
	// runs under it. Empty: no link.
	PublicURL string
	// Location is the zone message times are shown in. Default UTC.
	Location *time.Location
	// HTTPClient sends the webhooks. Default: a client without cookies.
	HTTPClient *http.Client
	// TLSConfig is the base TLS configuration of SMTP connections (tests
	// add their own root). Default: the system roots, TLS 1.2 or later.
	TLSConfig *tls.Config
	// HeloName is what the SMTP client calls itself. Default "localhost".
	HeloName string
	// Timeout bounds one delivery. Default 10s.
	Timeout time.Duration
	// Interval is how often pending notifications are looked for when
	// nothing wakes the sender. Default 1s.
	Interval time.Duration
	// LeaseTTL is how long a claimed notification is this replica's.
	// Default 60s, well above Timeout.
	LeaseTTL time.Duration
	// Batch is the most notifications claimed at once. Default 16.
	Batch int
	// MaxAttempts is how many tries a notification gets. Default 10.
	MaxAttempts int
	// Backoff is the first retry's delay; each further one doubles, with
	// jitter, up to MaxBackoff. Defaults 5s and 30m.
	Backoff, MaxBackoff time.Duration
	Clock               clock.Clock
	Logger              *slog.Logger
	// Registerer receives connecthub_notifications_total. Nil: none.
	Registerer prometheus.Registerer
}

func (c SenderConfig) withDefaults() SenderConfig {
	if c.Owner == "" {
		c.Owner = "connecthub"
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.HeloName == "" {
		c.HeloName = "localhost"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = max(60*time.Second, 2*c.Timeout)
	}
	if c.Batch == 0 {
		c.Batch = 16
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.Backoff == 0 {
		c.Backoff = 5 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Sender delivers the outbox: every replica runs one, and the claim's
// lease makes sure each notification is in the hands of exactly one of
// them at a time. It runs on its own goroutines and only reads and
// writes the notifications table, so a slow or dead receiver never holds
// up a run or the scheduler.
type Sender struct {
	startstop.Base
	cfg   SenderConfig
	log   *slog.Logger
	wake  chan struct{}
	total *prometheus.CounterVec
}

// NewSender returns a Sender; Start checks the configuration.
func NewSender(cfg SenderConfig) *Sender {
	cfg = cfg.withDefaults()
	s := &Sender{cfg: cfg, log: cfg.Logger.With("component", "notify-sender"), wake: make(chan struct{}, 1)}
	s.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connecthub_notifications_total",
		Help: "Notification delivery attempts by channel, event and outcome (sent, retry, failed).",
	}, []string{"channel", "event", "status"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(s.total); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				s.total = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return s
}

func (s *Sender) now() time.Time { return s.cfg.Clock.Now() }

// Wake makes the sender look for notifications at once (the processor
// calls it after it wrote some). It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start starts delivering.
func (s *Sender) Start(ctx context.Context) error {
	if s.cfg.Store == nil {
		return errors.New("notify sender: Store is required")
	}
	runCtx, started, stopped, err := s.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("notify sender: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		loop(runCtx, s.cfg.Clock, s.cfg.Interval, s.wake, func() {
			for runCtx.Err() == nil {
				n, err := s.SendOnce(runCtx)
				if err != nil && runCtx.Err() == nil {
					s.log.Error("sending notifications failed; will retry", "err", err)
				}
				if err != nil || n < s.cfg.Batch {
					return
				}
			}
		})
	}()
	return nil
}

// Stop stops the sender and waits for deliveries in progress.
func (s *Sender) Stop(ctx context.Context) error { return s.StopContext(ctx) }

// SendOnce claims one batch, delivers it (in parallel) and records each
// attempt; it returns how many it claimed.
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	ns, err := s.cfg.Store.NotificationClaim(ctx, store.NotificationClaimParams{
		Owner: s.cfg.Owner, Max: s.cfg.Batch, LeaseTTL: s.cfg.LeaseTTL, Now: s.now()})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() { s.deliverOne(ctx, n) })
	}
	wg.Wait()
	return len(ns), nil
}

func (s *Sender) deliverOne(ctx context.Context, n *connecthub.Notification) {
	answer, err, permanent := s.attempt(ctx, n)
	res := store.NotificationResult{ID: n.ID, Owner: s.cfg.Owner,
		Attempt: connecthub.DeliveryAttempt{At: s.now(), Node: s.cfg.Owner, OK: err == nil, Response: answer}}
	status := "sent"
	switch {
	case err == nil:
		res.Sent = true
	case permanent || n.Attempts+1 >= s.cfg.MaxAttempts:
		res.Failed, status = true, "failed"
		res.Attempt.Response = err.Error()
	default:
		status = "retry"
		res.Attempt.Response = err.Error()
		res.NextAttemptAt = res.Attempt.At.Add(s.backoff(n.Attempts + 1))
	}
	ok, rerr := s.cfg.Store.NotificationRecord(context.WithoutCancel(ctx), res)
	switch {
	case rerr != nil:
		s.log.Error("recording a delivery failed; it will be retried when its lease ends", "notification", n.ID, "err", rerr)
	case !ok:
		s.log.Warn("a notification's lease ended before its delivery was recorded", "notification", n.ID)
	}
	s.total.WithLabelValues(n.Channel, n.Event, status).Inc()
	if err != nil {
		s.log.Warn("notification not delivered", "notification", n.ID, "channel", n.Channel, "event", n.Event,
			"attempt", n.Attempts+1, "final", res.Failed, "err", res.Attempt.Response)
	}
}

// attempt tries one delivery; permanent says a retry cannot help (the
// channel is gone or its secret unreadable by every key).
func (s *Sender) attempt(ctx context.Context, n *connecthub.Notification) (answer string, err error, permanent bool) {
	ch, err := s.cfg.Store.ChannelGet(ctx, n.Channel)
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return "", fmt.Errorf("channel %q no longer exists", n.Channel), true
	}
	if err != nil {
		return "", err, false
	}
	t, err := s.Target(ch)
	if err != nil {
		return "", err, false
	}
	answer, err = s.Deliver(ctx, t, n.Alert)
	return answer, err, false
}

// Target decrypts a channel's write-only parts.
func (s *Sender) Target(ch *connecthub.Channel) (Target, error) {
	t := Target{Channel: ch}
	if ch.SecretToken == "" {
		return t, nil
	}
	if s.cfg.Keyring == nil {
		return t, errors.New("no keyring to open the channel's secret")
	}
	plain, err := s.cfg.Keyring.Decrypt(ch.SecretToken)
	if err != nil {
		return t, fmt.Errorf("channel %s: %w", ch.Name, err)
	}
	if err := json.Unmarshal(plain, &t.Secret); err != nil {
		return t, fmt.Errorf("channel %s: its secret is not readable", ch.Name)
	}
	return t, nil
}

// backoff is the delay before try n+1: Backoff doubled n-1 times, with
// up to 20% jitter so that replicas do not hammer a receiver in step, at
// most MaxBackoff.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// loop calls pass at once, then after each interval or wake-up, until ctx
// ends. The timer is armed only between passes.
func loop(ctx context.Context, clk clock.Clock, interval time.Duration, wake <-chan struct{}, pass func()) {
	timer := clk.NewTimer(interval)
	defer timer.Stop()
	for {
		pass()
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(interval)
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		case <-wake:
		}
	}
}
