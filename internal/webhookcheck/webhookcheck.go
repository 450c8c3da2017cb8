// Package webhookcheck watches the webhook as Telegram sees it: when TLS,
// DNS or the ingress break, no update arrives and every other metric looks
// healthy, but getWebhookInfo says so (pending_update_count grows,
// last_error_date and last_error_message tell the failure).
//
// One instance asks: the holder of shard 0's lease (Leading), every
// WEBHOOK_CHECK_INTERVAL (1 minute by default). It exports what Telegram
// answered as the dispatcher_telegram_webhook_* gauges (present only on
// that instance: absent everywhere else, and removed when it stops
// leading), logs TELEGRAM_WEBHOOK_UNHEALTHY at a new delivery error or a
// URL other than the configured one, and stores the answer in Redis
// (keys.Space.WebhookInfo) for `dispatcher status`.
//
// What it does not do: it never sets or deletes the webhook (that is
// `dispatcher webhook set|delete`), and it says nothing with INGEST=poll or
// in sandbox mode, where it does not run. Two instances may both ask for
// a moment around a handover of shard 0; each answer is Telegram's, so
// that does no harm.
package webhookcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Info is what getWebhookInfo answered (the fields the check uses).
type Info struct {
	URL              string
	Pending          int
	LastErrorDate    int64 // Unix seconds; 0: none
	LastErrorMessage string
}

// Clock is the time source of the check's schedule; tests inject a manual
// one. lease.Clock values fit.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Checker. Fetch, Redis, Metrics, Log and Leading are
// required.
type Config struct {
	Fetch    func(ctx context.Context) (Info, error) // getWebhookInfo
	Redis    redis.UniversalClient
	Keys     keys.Space
	Metrics  *metrics.Metrics
	Log      *telemetry.Logger
	Leading  func() bool   // true while this instance holds shard 0
	Every    time.Duration // WEBHOOK_CHECK_INTERVAL
	URL      string        // WEBHOOK_URL; "" matches any URL on Path
	Path     string        // WEBHOOK_PATH
	Instance string        // INSTANCE_ID, stored with the report
	Clock    Clock         // nil: the real clock
}

// ErrConfig is returned by New for an impossible configuration.
var ErrConfig = errors.New("webhookcheck: invalid configuration")

// Checker is the component; Run it once.
type Checker struct {
	cfg Config

	mu       sync.Mutex
	lastErr  int64 // last_error_date last logged
	mismatch bool  // a URL mismatch was logged and has not cleared
	failing  bool  // getWebhookInfo failed last time
}

// New checks cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Fetch == nil || cfg.Redis == nil || cfg.Metrics == nil || cfg.Log == nil || cfg.Leading == nil {
		return nil, fmt.Errorf("%w: Fetch, Redis, Metrics, Log and Leading are required", ErrConfig)
	}
	if cfg.Every <= 0 {
		return nil, fmt.Errorf("%w: Every must be positive, got %s", ErrConfig, cfg.Every)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	return &Checker{cfg: cfg}, nil
}

// Report is one check, as stored in Redis and shown by `dispatcher status`.
type Report struct {
	CheckedAt time.Time `json:"checked_at"`
	Instance  string    `json:"instance"`
	URL       string    `json:"url"`
	// WantURL is WEBHOOK_URL ("" when unset: any URL on WEBHOOK_PATH matches).
	WantURL  string `json:"want_url,omitempty"`
	URLMatch bool   `json:"url_match"`
	Pending  int    `json:"pending_update_count"`
	// LastErrorDate is Telegram's last_error_date (Unix seconds, 0: none).
	LastErrorDate    int64  `json:"last_error_date,omitempty"`
	LastErrorReason  string `json:"last_error_reason"` // one of Reasons()
	LastErrorMessage string `json:"last_error_message,omitempty"`
	// Error is why getWebhookInfo could not be asked ("" when it answered;
	// the other fields are then those of the last answer, if any).
	Error string `json:"error,omitempty"`
}

// Run checks while Leading: at once when this instance starts leading,
// then every Every; it looks whether it leads every min(Every, 5s), and
// while it does not it exports nothing. It removes its gauges when it
// returns (ctx ended).
func (w *Checker) Run(ctx context.Context) error {
	defer w.cfg.Metrics.ForgetTelegramWebhook()
	step := min(w.cfg.Every, 5*time.Second)
	var last time.Time // of the last check while leading; zero when not leading
	for {
		switch now := w.cfg.Clock.Now(); {
		case !w.cfg.Leading():
			if !last.IsZero() {
				w.cfg.Metrics.ForgetTelegramWebhook()
			}
			last = time.Time{}
		case last.IsZero() || now.Sub(last) >= w.cfg.Every:
			w.Check(ctx)
			last = now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.cfg.Clock.After(step):
		}
	}
}

// Check asks getWebhookInfo once, exports and stores the answer, and logs
// what is wrong; it returns the report.
func (w *Checker) Check(ctx context.Context) Report {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rep := Report{CheckedAt: w.cfg.Clock.Now().UTC(), Instance: w.cfg.Instance, WantURL: w.cfg.URL}
	info, err := w.cfg.Fetch(cctx)
	if err != nil {
		if ctx.Err() != nil {
			return rep
		}
		rep.Error = err.Error()
		rep.LastErrorReason = ReasonNone
		w.failed(err)
		w.store(ctx, rep)
		return rep
	}
	rep.URL, rep.Pending = info.URL, info.Pending
	rep.LastErrorDate, rep.LastErrorMessage = info.LastErrorDate, info.LastErrorMessage
	rep.LastErrorReason = ReasonNone
	if info.LastErrorDate > 0 {
		rep.LastErrorReason = Classify(info.LastErrorMessage)
	}
	rep.URLMatch = w.matches(info.URL)
	w.cfg.Metrics.SetTelegramWebhook(metrics.TelegramWebhook{Pending: info.Pending, LastErrorDate: info.LastErrorDate,
		Reason: rep.LastErrorReason, URLMatch: rep.URLMatch, Checked: rep.CheckedAt})
	w.logNews(rep)
	w.store(ctx, rep)
	return rep
}

// matches tells whether Telegram delivers where this deployment listens:
// WEBHOOK_URL exactly, or without it any URL whose path is WEBHOOK_PATH.
func (w *Checker) matches(got string) bool {
	if got == "" {
		return false
	}
	if w.cfg.URL != "" {
		return got == w.cfg.URL
	}
	u, err := url.Parse(got)
	return err == nil && u.Path == w.cfg.Path
}

func (w *Checker) failed(err error) {
	w.mu.Lock()
	first := !w.failing
	w.failing = true
	w.mu.Unlock()
	if first {
		w.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvWebhookUnhealthy, "getWebhookInfo failed: the webhook's state as Telegram sees it is unknown",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonTelegramAPIError)), zap.String(telemetry.FReasonText, err.Error()))
	}
}

// logNews logs a delivery error not logged before, and a URL mismatch
// when it begins.
func (w *Checker) logNews(rep Report) {
	w.mu.Lock()
	newErr := rep.LastErrorDate > 0 && rep.LastErrorDate != w.lastErr
	w.lastErr = rep.LastErrorDate
	newMismatch := !rep.URLMatch && !w.mismatch
	w.mismatch = !rep.URLMatch
	w.failing = false
	w.mu.Unlock()
	if newErr {
		w.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvWebhookUnhealthy, "Telegram reports an error delivering to the webhook",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonWebhookDeliveryFailed)),
			zap.String(telemetry.FReasonText, rep.LastErrorMessage), zap.String(telemetry.FWebhookError, rep.LastErrorReason),
			zap.Int(telemetry.FPendingUpdates, rep.Pending), zap.String(telemetry.FURL, rep.URL))
	}
	if newMismatch {
		want := "a URL on WEBHOOK_PATH " + w.cfg.Path
		if w.cfg.URL != "" {
			want = "WEBHOOK_URL " + w.cfg.URL
		}
		text := "Telegram delivers to " + rep.URL + ", not " + want + ": run `dispatcher webhook set`"
		if rep.URL == "" {
			text = "no webhook is set with Telegram: run `dispatcher webhook set`"
		}
		w.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvWebhookUnhealthy, "the webhook Telegram delivers to is not this deployment's",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonWebhookURLMismatch)), zap.String(telemetry.FReasonText, text),
			zap.String(telemetry.FURL, rep.URL), zap.Int(telemetry.FPendingUpdates, rep.Pending))
	}
}

// store writes the report for `dispatcher status`; it expires after a few
// missed checks, so a stale one is not shown as current for long. A
// failure is logged by the Redis health loop, not here.
func (w *Checker) store(ctx context.Context, rep Report) {
	b, err := json.Marshal(rep)
	if err != nil {
		return
	}
	ttl := max(3*w.cfg.Every, 5*time.Minute)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = w.cfg.Redis.Set(sctx, w.cfg.Keys.WebhookInfo(), b, ttl).Err()
}

// Read returns the last stored report; nil when none is stored (no check
// ran within a few intervals, INGEST=poll, sandbox mode, or an older
// version).
func Read(ctx context.Context, c redis.UniversalClient, ks keys.Space) (*Report, error) {
	b, err := c.Get(ctx, ks.WebhookInfo()).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("webhookcheck: stored report %s: %w", ks.WebhookInfo(), err)
	}
	return &rep, nil
}
