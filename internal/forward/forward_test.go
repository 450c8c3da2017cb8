package forward

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// caller records the calls the forwarder makes through the proxy.
type caller struct {
	mu    sync.Mutex
	calls []string
	done  chan string
}

func (c *caller) Call(_ context.Context, method string, params []byte) (int, []byte) {
	c.mu.Lock()
	c.calls = append(c.calls, method+" "+string(params))
	c.mu.Unlock()
	if c.done != nil {
		c.done <- method
	}
	return 200, []byte(`{"ok":true,"result":true}`)
}

type leads bool

func (l leads) Valid(int, int64) bool { return bool(l) }
func (l leads) Token(int) (int64, error) {
	if l {
		return 1, nil
	}
	return 0, errors.New("not held")
}

func newForwarder(t *testing.T, url string, lead leads, c *caller) (*Forwarder, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.InfoLevel, Instance: "fwd-test", Output: logs})
	require.NoError(t, err)
	f, err := New(Config{URL: url, Tracker: NewTracker(nil), Caller: c, Leadership: lead, Log: log,
		SilenceAfter: 50 * time.Millisecond, Timeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(f.Close)
	return f, logs
}

func callbackUpdate(t *testing.T, id string) (*update.Update, context.Context) {
	t.Helper()
	raw := []byte(`{"update_id":1,"callback_query":{"id":"` + id + `","from":{"id":5,"is_bot":false,"first_name":"A"},` +
		`"message":{"message_id":9,"date":1,"chat":{"id":5,"type":"private"}},"chat_instance":"1","data":"x"}}`)
	info, err := update.Scan(raw)
	require.NoError(t, err)
	u, err := update.Decode(raw, info)
	require.NoError(t, err)
	ctx := telemetry.WithUpdate(context.Background(), telemetry.Update{CID: "0a0b0c0d", UpdateID: 1, Type: info.Type, ChatID: 5, UserID: 5})
	return u, ctx
}

func okUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGuardAnswersOnlyUnansweredCallbacksItLeads(t *testing.T) {
	c := &caller{done: make(chan string, 4)}
	// the bot answers q2 through the proxy while the update is delivered,
	// as a real bot does (the tracker hears of it before the guard's 50ms)
	var f *Forwarder
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, _ := io.ReadAll(r.Body); bytes.Contains(body, []byte(`"id":"q2"`)) {
			f.cfg.Tracker.Answered("q2")
		}
	}))
	t.Cleanup(upstream.Close)
	f, logs := newForwarder(t, upstream.URL, true, c)
	u, ctx := callbackUpdate(t, "q1")
	require.NoError(t, f.Handle(ctx, u))
	select {
	case m := <-c.done:
		require.Equal(t, "answerCallbackQuery", m)
	case <-time.After(5 * time.Second):
		t.Fatal("the guard did not answer")
	}
	require.Equal(t, []string{`answerCallbackQuery {"callback_query_id":"q1"}`}, c.calls)
	warn := logs.Events("SILENCE_WARNING")
	require.Len(t, warn, 1)
	require.Equal(t, "0a0b0c0d", warn[0]["cid"])

	// answered through the proxy (the tracker hears of it): no guard
	u2, ctx2 := callbackUpdate(t, "q2")
	require.NoError(t, f.Handle(ctx2, u2))
	f.Close() // waits for a guard in flight; none may call after it
	require.Len(t, c.calls, 1)
}

func TestGuardStaysQuietWithoutTheShard(t *testing.T) {
	c := &caller{done: make(chan string, 4)}
	f, logs := newForwarder(t, okUpstream(t), false, c)
	u, ctx := callbackUpdate(t, "q3")
	require.NoError(t, f.Handle(ctx, u))
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.timers) == 0
	}, 5*time.Second, 5*time.Millisecond, "the guard's timer fired")
	f.Close()
	require.Empty(t, c.calls, "a shard this instance no longer leads: its new leader guards the callback")
	require.Empty(t, logs.Events("SILENCE_WARNING"))
}

func TestTrackerPrunesFinishedDeliveries(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tr := NewTracker(func() time.Time { return now })
	e := tr.begin(botproxy.Delivery{Update: telemetry.Update{CID: "00000001"}}, 5, "q")
	running := tr.begin(botproxy.Delivery{Update: telemetry.Update{CID: "00000002"}}, 6, "")
	d, ok := tr.ForChat(5)
	require.True(t, ok)
	require.True(t, d.Running)
	tr.end(e)
	d, _ = tr.ForQuery("q")
	require.False(t, d.Running)
	now = now.Add(Retain + time.Second)
	tr.Prune()
	_, ok = tr.ForChat(5)
	require.False(t, ok, "finished more than Retain ago")
	_, ok = tr.ForQuery("q")
	require.False(t, ok)
	_, ok = tr.ForChat(6)
	require.True(t, ok, "still running: kept")
	_ = running
}
