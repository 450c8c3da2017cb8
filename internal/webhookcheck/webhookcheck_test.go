package webhookcheck_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/webhookcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"

// manualClock fires After channels only when the test advances it.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{} // receives when someone calls After
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *manualClock {
	return &manualClock{now: time.Unix(1764300000, 0), waiting: make(chan struct{}, 16)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waiting <- struct{}{}
	return ch
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

type rig struct {
	bot     *fakebot.Server
	m       *metrics.Metrics
	logs    *logtest.Buffer
	keys    keys.Space
	checker *webhookcheck.Checker
	clock   *manualClock
	leading atomic.Bool
	cfg     webhookcheck.Config
}

func newRig(t *testing.T, wantURL string) *rig {
	t.Helper()
	c, ns := redistest.Client(t)
	r := &rig{bot: fakebot.New(), m: metrics.NewTest(), logs: &logtest.Buffer{}, keys: keys.New(ns), clock: newClock()}
	api := httptest.NewServer(r.bot)
	t.Cleanup(api.Close)
	log, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.InfoLevel, Instance: "i1", Output: r.logs})
	require.NoError(t, err)
	tg, err := telegram.New(telegram.Config{Token: token, APIURL: api.URL, Log: log, Metrics: r.m, NoLimits: true})
	require.NoError(t, err)
	r.leading.Store(true)
	r.cfg = webhookcheck.Config{
		Fetch: func(ctx context.Context) (webhookcheck.Info, error) {
			info, err := tg.Bot().GetWebhookInfo(ctx)
			if err != nil {
				return webhookcheck.Info{}, err
			}
			return webhookcheck.Info{URL: info.URL, Pending: info.PendingUpdateCount,
				LastErrorDate: info.LastErrorDate, LastErrorMessage: info.LastErrorMessage}, nil
		},
		Redis: c, Keys: r.keys, Metrics: r.m, Log: log, Leading: r.leading.Load,
		Every: time.Minute, URL: wantURL, Path: "/webhook", Instance: "i1", Clock: r.clock,
	}
	r.checker, err = webhookcheck.New(r.cfg)
	require.NoError(t, err)
	return r
}

// series returns the dispatcher_telegram_webhook_* series: name{labels} -> value.
func (r *rig) series(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := r.m.Registry.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if len(mf.GetName()) < 28 || mf.GetName()[:28] != "dispatcher_telegram_webhook_" {
			continue
		}
		for _, s := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range s.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			out[key] = s.GetGauge().GetValue()
		}
	}
	return out
}

// TestCheckExportsWhatTelegramReports: a healthy webhook, then one Telegram
// cannot deliver to (502 from the ingress, updates piling up), then a URL
// that is not WEBHOOK_URL: the gauges follow each answer, the last error is
// classified into the closed reason set, each new problem is logged once
// with its reason code, and the report is stored for status.
func TestCheckExportsWhatTelegramReports(t *testing.T) {
	const want = "https://bot.example.com/webhook"
	r := newRig(t, want)
	ctx := context.Background()
	require.Empty(t, r.series(t), "the series start absent")

	r.bot.SetWebhookInfo(map[string]any{"url": want})
	rep := r.checker.Check(ctx)
	require.Empty(t, rep.Error)
	require.True(t, rep.URLMatch)
	require.Equal(t, map[string]float64{
		"dispatcher_telegram_webhook_pending_updates":                           0,
		"dispatcher_telegram_webhook_last_error_timestamp_seconds{reason=NONE}": 0,
		"dispatcher_telegram_webhook_url_match":                                 1,
		"dispatcher_telegram_webhook_checked_timestamp_seconds":                 1764300000,
	}, r.series(t))
	require.Empty(t, r.logs.Events(string(telemetry.EvWebhookUnhealthy)), "a healthy webhook logs nothing")

	r.bot.SetWebhookInfo(map[string]any{"url": want, "pending_update_count": 42, "last_error_date": 1764299990,
		"last_error_message": "Wrong response from the webhook: 502 Bad Gateway"})
	rep = r.checker.Check(ctx)
	require.Equal(t, webhookcheck.ReasonHTTP5xx, rep.LastErrorReason)
	s := r.series(t)
	require.Equal(t, 42.0, s["dispatcher_telegram_webhook_pending_updates"])
	require.Equal(t, 1764299990.0, s["dispatcher_telegram_webhook_last_error_timestamp_seconds{reason=HTTP_5XX}"])
	_, stale := s["dispatcher_telegram_webhook_last_error_timestamp_seconds{reason=NONE}"]
	require.False(t, stale, "one last-error series: the current reason's")
	r.checker.Check(ctx) // the same error again: not logged again
	evs := r.logs.Events(string(telemetry.EvWebhookUnhealthy))
	require.Len(t, evs, 1)
	require.Equal(t, string(telemetry.ReasonWebhookDeliveryFailed), evs[0]["reason_code"])
	require.Equal(t, "HTTP_5XX", evs[0]["webhook_error"])
	require.Equal(t, 42.0, evs[0]["pending_updates"])

	stored, err := webhookcheck.Read(ctx, r.cfg.Redis, r.keys)
	require.NoError(t, err)
	require.NotNil(t, stored)
	require.Equal(t, 42, stored.Pending)
	require.Equal(t, "Wrong response from the webhook: 502 Bad Gateway", stored.LastErrorMessage)
	require.Equal(t, "i1", stored.Instance)

	r.bot.SetWebhookInfo(map[string]any{"url": "https://old.example.com/webhook"})
	rep = r.checker.Check(ctx)
	require.False(t, rep.URLMatch)
	require.Equal(t, 0.0, r.series(t)["dispatcher_telegram_webhook_url_match"])
	evs = r.logs.Events(string(telemetry.EvWebhookUnhealthy))
	require.Len(t, evs, 2)
	require.Equal(t, string(telemetry.ReasonWebhookURLMismatch), evs[1]["reason_code"])
	require.Contains(t, evs[1]["reason_text"], "not WEBHOOK_URL "+want)
}

// TestURLMatchWithoutWebhookURL: without WEBHOOK_URL any URL on
// WEBHOOK_PATH matches; none set, or another path, does not.
func TestURLMatchWithoutWebhookURL(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	require.False(t, r.checker.Check(ctx).URLMatch, "no webhook set")
	r.bot.SetWebhookInfo(map[string]any{"url": "https://bot.example.com/webhook"})
	require.True(t, r.checker.Check(ctx).URLMatch)
	r.bot.SetWebhookInfo(map[string]any{"url": "https://bot.example.com/other"})
	require.False(t, r.checker.Check(ctx).URLMatch)
}

// TestRunAsksEveryIntervalOnlyWhileLeading: Run asks at start and then
// once an interval of the injected clock has passed, while it leads; when
// it stops leading its series go (another instance exports them), and it
// asks at once when it leads again; getWebhookInfo failing is logged once.
func TestRunAsksEveryIntervalOnlyWhileLeading(t *testing.T) {
	r := newRig(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.checker.Run(ctx); close(done) }()
	asks := func() int { return len(r.bot.CallsOf("getWebhookInfo")) }
	// step advances the clock and waits until Run waits again
	step := func(d time.Duration) {
		t.Helper()
		r.clock.Advance(d)
		select {
		case <-r.clock.waiting:
		case <-time.After(5 * time.Second):
			t.Fatal("Run does not wait for its next look")
		}
	}

	step(0)
	require.Equal(t, 1, asks(), "asked at start")
	require.NotEmpty(t, r.series(t))
	step(30 * time.Second)
	require.Equal(t, 1, asks(), "not before the interval")
	step(30 * time.Second)
	require.Equal(t, 2, asks(), "asked again after one interval")

	r.leading.Store(false)
	step(5 * time.Second)
	require.Empty(t, r.series(t), "not leading: its series are gone")
	step(time.Minute)
	require.Equal(t, 2, asks(), "not asked while another instance holds shard 0")

	r.leading.Store(true)
	step(5 * time.Second)
	require.Equal(t, 3, asks(), "asked as soon as it leads again")
	require.NotEmpty(t, r.series(t))

	r.bot.SetWebhookInfo(map[string]any{"url": "https://bot.example.com/webhook"})
	r.bot.SetFault(func(method string, n int) *fakebot.Fault {
		return &fakebot.Fault{Status: 400, Description: "Bad Request: nope"}
	})
	step(time.Minute)
	step(time.Minute)
	var failed []map[string]any
	for _, ev := range r.logs.Events(string(telemetry.EvWebhookUnhealthy)) {
		if ev["reason_code"] == string(telemetry.ReasonTelegramAPIError) {
			failed = append(failed, ev)
		}
	}
	require.Len(t, failed, 1, "a failing getWebhookInfo is logged once")
	stored, err := webhookcheck.Read(context.Background(), r.cfg.Redis, r.keys)
	require.NoError(t, err)
	require.Contains(t, stored.Error, "nope")

	r.bot.SetFault(nil)
	step(time.Minute)
	require.Equal(t, 1.0, r.series(t)["dispatcher_telegram_webhook_url_match"], "answering again")

	cancel()
	<-done
	require.Empty(t, r.series(t), "a stopped check exports nothing")
}

func TestClassify(t *testing.T) {
	for msg, want := range map[string]string{
		"": webhookcheck.ReasonNone,
		"Wrong response from the webhook: 502 Bad Gateway":                  webhookcheck.ReasonHTTP5xx,
		"Wrong response from the webhook: 401 Unauthorized":                 webhookcheck.ReasonHTTP4xx,
		"Failed to resolve host: Name or service not known":                 webhookcheck.ReasonDNS,
		"SSL error {error:14090086:SSL routines:certificate verify failed}": webhookcheck.ReasonTLS,
		"Connection timed out":                                              webhookcheck.ReasonTimeout,
		"Read timeout expired":                                              webhookcheck.ReasonTimeout,
		"Connection refused":                                                webhookcheck.ReasonConnection,
		"something new":                                                     webhookcheck.ReasonOther,
	} {
		require.Equal(t, want, webhookcheck.Classify(msg), msg)
		require.Contains(t, webhookcheck.Reasons(), want)
	}
}
