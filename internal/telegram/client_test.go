package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mymmrac/telego"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

type buf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *buf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// apiErrors returns the TELEGRAM_API_ERROR events logged.
func (b *buf) apiErrors(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		if l == "" {
			continue
		}
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		if e["name"] == "TELEGRAM_API_ERROR" {
			out = append(out, e)
		}
	}
	return out
}

type env struct {
	c    *telegram.Client
	fake *fakebot.Server
	logs *buf
	m    *metrics.Metrics
	url  string
}

func newEnv(t *testing.T, mod func(*telegram.Config)) *env {
	t.Helper()
	fake := fakebot.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	logs := &buf{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "t", Output: logs})
	require.NoError(t, err)
	m := metrics.NewTest()
	cfg := telegram.Config{Token: telegram.SandboxToken, APIURL: srv.URL, Log: log, Metrics: m, NoLimits: true,
		RetryBackoff: 10 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := telegram.New(cfg)
	require.NoError(t, err)
	return &env{c: c, fake: fake, logs: logs, m: m, url: srv.URL}
}

func faultOn(method string, upTo int, f fakebot.Fault) fakebot.FaultFunc {
	return func(m string, n int) *fakebot.Fault {
		if m == method && (upTo < 0 || n <= upTo) {
			return &f
		}
		return nil
	}
}

func TestSendReachesTheAPIServer(t *testing.T) {
	e := newEnv(t, nil)
	kb := &telego.InlineKeyboardMarkup{InlineKeyboard: [][]telego.InlineKeyboardButton{{{Text: "Image", CallbackData: "v1:cat:image"}}}}
	msg, err := e.c.Send(context.Background(), 42, "Choose a category", kb)
	require.NoError(t, err)
	require.Equal(t, "Choose a category", msg.Text)
	calls := e.fake.CallsOf("sendMessage")
	require.Len(t, calls, 1)
	require.Equal(t, "Choose a category", calls[0].Params["text"])
	require.NotNil(t, calls[0].Params["reply_markup"])
	require.NoError(t, e.c.Edit(context.Background(), 42, msg.MessageID, "Edited", nil))
	require.Equal(t, 1.0, counter(t, e.m.TelegramRequests.WithLabelValues("sendMessage")))
	require.Equal(t, 1.0, counter(t, e.m.TelegramRequests.WithLabelValues("editMessageText")))
}

func TestRetriesA429AfterRetryAfter(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(faultOn("sendMessage", 1, fakebot.Fault{Status: 429, RetryAfter: 1, Description: "Too Many Requests: retry after 1"}))
	start := time.Now()
	_, err := e.c.Send(context.Background(), 42, "hi", nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "waited retry_after")
	require.Len(t, e.fake.Calls(), 2)
	require.Empty(t, e.logs.apiErrors(t), "a retried 429 that then succeeds is not an error")
	require.Equal(t, 1.0, counter(t, e.m.TelegramErrors.WithLabelValues("sendMessage", "429")))
	require.Equal(t, 2.0, counter(t, e.m.TelegramRequests.WithLabelValues("sendMessage")))
}

func TestA429BeyondTheBudgetFailsAtOnce(t *testing.T) {
	e := newEnv(t, func(c *telegram.Config) { c.MaxRetryWait = 500 * time.Millisecond })
	e.fake.SetFault(faultOn("sendMessage", -1, fakebot.Fault{Status: 429, RetryAfter: 30, Description: "Too Many Requests: retry after 30"}))
	start := time.Now()
	_, err := e.c.Send(context.Background(), 42, "hi", nil)
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, err, telegram.ErrAPI)
	ae, ok := telegram.AsAPIError(err)
	require.True(t, ok)
	require.Equal(t, 429, ae.Status)
	require.Equal(t, 30, ae.RetryAfter)
	require.True(t, telegram.IsRetryable(err))
	evs := e.logs.apiErrors(t)
	require.Len(t, evs, 1)
	require.Equal(t, "sendMessage", evs[0]["method"])
	require.Equal(t, float64(429), evs[0]["status"])
	require.Equal(t, float64(30), evs[0]["retry_after"])
	require.Equal(t, "TELEGRAM_API_ERROR", evs[0]["reason_code"])
	require.Equal(t, "TELEGRAM", evs[0]["domain"])
}

func TestTheDeadlineBoundsTheWait(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(faultOn("sendMessage", -1, fakebot.Fault{Status: 429, RetryAfter: 8}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := e.c.Send(ctx, 42, "hi", nil) // 8 s is within MaxRetryWait (10 s) but not the deadline
	require.Less(t, time.Since(start), 4*time.Second, "no wait that cannot finish in time")
	require.Equal(t, 429, telegram.Status(err))
}

func TestServerErrorsAreRetriedWithBackoff(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(faultOn("editMessageText", 2, fakebot.Fault{Status: 502, Description: "Bad Gateway"}))
	msg, err := e.c.Send(context.Background(), 42, "hi", nil)
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, e.c.Edit(context.Background(), 42, msg.MessageID, "edited", nil))
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "10 ms then 20 ms")
	require.Len(t, e.fake.CallsOf("editMessageText"), 1)
	require.Empty(t, e.logs.apiErrors(t))

	e.fake.SetFault(faultOn("sendMessage", -1, fakebot.Fault{Status: 500, Description: "Internal Server Error"}))
	_, err = e.c.Send(context.Background(), 42, "hi", nil)
	require.Equal(t, 500, telegram.Status(err))
	require.True(t, telegram.IsRetryable(err))
	n := 0
	for _, c := range e.fake.Calls() {
		if c.Method == "sendMessage" && c.Status == 500 {
			n++
		}
	}
	require.Equal(t, 4, n, "RetryAttempts (default 4) attempts")
	require.Len(t, e.logs.apiErrors(t), 1)
}

// TestAnswersOutlastAServerOutage: a Bot API answering 5xx for longer than
// RetryAttempts allow still gets the callback's answer once it is back, as
// long as MaxRetryWait and the deadline allow (the chaos suite's Bot API
// outage left callbacks unanswered before).
func TestAnswersOutlastAServerOutage(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(faultOn("answerCallbackQuery", 6, fakebot.Fault{Status: 502, Description: "Bad Gateway"}))
	ctx := telegram.TrackAnswers(context.Background())
	require.NoError(t, e.c.AnswerCallback(ctx, "q-outage", "ok"))
	require.Len(t, e.fake.CallsOf("answerCallbackQuery"), 1)
	require.Len(t, e.fake.Calls(), 7, "six 502s, then the answer")
	require.Empty(t, e.logs.apiErrors(t))

	// the wait budget still bounds it
	e = newEnv(t, func(c *telegram.Config) { c.MaxRetryWait = 100 * time.Millisecond })
	e.fake.SetFault(faultOn("answerCallbackQuery", -1, fakebot.Fault{Status: 500, Description: "Internal Server Error"}))
	err := e.c.AnswerCallback(telegram.TrackAnswers(context.Background()), "q-down", "ok")
	require.Equal(t, 500, telegram.Status(err))
	require.Len(t, e.fake.Calls(), 4, "10, 20 and 40 ms waits fit in 100 ms; 80 ms more does not")
	require.Len(t, e.logs.apiErrors(t), 1)
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	err := e.c.Edit(context.Background(), 42, 999, "x", nil)
	require.Equal(t, 400, telegram.Status(err))
	require.False(t, telegram.IsRetryable(err))
	require.Contains(t, err.Error(), "message to edit not found")
	require.Len(t, e.fake.Calls(), 1)
	evs := e.logs.apiErrors(t)
	require.Len(t, evs, 1)
	require.Equal(t, "editMessageText", evs[0]["method"])

	e.fake.SetFault(faultOn("editMessageText", -1, fakebot.Fault{Status: 400,
		Description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"}))
	require.NoError(t, e.c.Edit(context.Background(), 42, 1, "same", nil), "an edit that changes nothing is done")
	require.Len(t, e.logs.apiErrors(t), 1, "and is not logged as an error")
}

func TestTheTokenNeverLeaks(t *testing.T) {
	logs := &buf{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Output: logs})
	require.NoError(t, err)
	c, err := telegram.New(telegram.Config{Token: telegram.SandboxToken, APIURL: "http://127.0.0.1:1", Log: log,
		RetryAttempts: 1, NoLimits: true})
	require.NoError(t, err)
	_, err = c.Send(context.Background(), 42, "hi", nil)
	require.Error(t, err)
	require.Equal(t, 0, telegram.Status(err), "a transport failure")
	require.NotContains(t, err.Error(), telegram.SandboxToken)
	require.NotContains(t, err.Error(), "SANDBOX")
	require.Contains(t, err.Error(), "[REDACTED]", "the URL is kept, with the token cut out")
	require.NotContains(t, logs.String(), "SANDBOX")
	require.Len(t, logs.apiErrors(t), 1)

	_, err = telegram.New(telegram.Config{Token: "not-a-token", Log: log})
	require.ErrorIs(t, err, telegram.ErrConfig)
	require.NotContains(t, err.Error(), "not-a-token")
}

func TestEachCallbackIsAnsweredOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := telegram.TrackAnswers(context.Background())
	require.False(t, telegram.Answered(ctx, "q1"))
	require.NoError(t, e.c.AnswerCallback(ctx, "q1", "done"))
	require.ErrorIs(t, e.c.AnswerCallback(ctx, "q1", "again"), telegram.ErrAlreadyAnswered)
	require.True(t, telegram.Answered(ctx, "q1"))
	require.Len(t, e.fake.CallsOf("answerCallbackQuery"), 1)

	// an answer made straight through telego is seen too
	require.NoError(t, e.c.Bot().AnswerCallbackQuery(ctx, &telego.AnswerCallbackQueryParams{CallbackQueryID: "q2"}))
	require.True(t, telegram.Answered(ctx, "q2"))
	require.ErrorIs(t, e.c.AnswerCallback(ctx, "q2", ""), telegram.ErrAlreadyAnswered)
	require.False(t, telegram.Answered(context.Background(), "q1"), "no tracker, no memory")
}

func TestLimiterSpacesMessagesToOneChat(t *testing.T) {
	e := newEnv(t, func(c *telegram.Config) {
		c.NoLimits = false
		c.Limits = telegram.Limits{Global: 1000, GlobalBurst: 1000, PerChat: 20, PerChatBurst: 1, Group: 20, GroupBurst: 1}
	})
	start := time.Now()
	for range 5 {
		_, err := e.c.Send(context.Background(), 42, "hi", nil)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "4 gaps of 50 ms")

	// answers are not messages: not limited
	ctx := telegram.TrackAnswers(context.Background())
	start = time.Now()
	for i := range 10 {
		require.NoError(t, e.c.AnswerCallback(ctx, string(rune('a'+i)), ""))
	}
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestLimiterRefusesAWaitPastTheDeadline(t *testing.T) {
	e := newEnv(t, func(c *telegram.Config) {
		c.NoLimits = false
		c.Limits = telegram.Limits{Global: 30, GlobalBurst: 30, PerChat: 0.1, PerChatBurst: 1}
	})
	_, err := e.c.Send(context.Background(), 42, "first", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = e.c.Send(ctx, 42, "second", nil)
	require.ErrorIs(t, err, telegram.ErrRateLimited)
	require.True(t, errors.Is(err, context.DeadlineExceeded))
	require.Len(t, e.fake.CallsOf("sendMessage"), 1, "nothing sent")
	_, err = e.c.Send(ctx, 43, "another chat", nil)
	require.NoError(t, err, "other chats are not held back")
}

func TestAllowedUpdates(t *testing.T) {
	require.Equal(t, []string{"message", "callback_query", "business_message"}, telegram.AllowedUpdates())
}

// counter reads a counter's value.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
