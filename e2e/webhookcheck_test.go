package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestWebhookCheckReportsWhatTelegramSees (issue 24): two real-mode
// instances against the fake Bot API, which reports a webhook Telegram
// cannot deliver to (502, updates pending). Only the holder of shard 0 asks
// getWebhookInfo and exports the dispatcher_telegram_webhook_* gauges; it
// logs the delivery error with its reason code; `status` shows it. When the
// holder stops, the other instance takes over the check.
func TestWebhookCheckReportsWhatTelegramSees(t *testing.T) {
	const url = "https://bot.example.com/webhook"
	e := world.New(t, "", map[string]string{"WEBHOOK_CHECK_INTERVAL": "200ms", "WEBHOOK_URL": url})
	e.Bot.SetWebhookInfo(map[string]any{"url": url, "pending_update_count": 17, "last_error_date": time.Now().Unix() - 5,
		"last_error_message": "Wrong response from the webhook: 502 Bad Gateway"})
	ins := e.Start(2, "hook")
	active := e.Active(10*time.Second, ins)
	require.NotNil(t, active)
	passive := ins[0]
	if passive == active {
		passive = ins[1]
	}

	series := func(in *proctest.Instance) map[string]float64 {
		m, err := in.Metrics()
		require.NoError(t, err)
		out := map[string]float64{}
		for k, v := range m {
			if strings.HasPrefix(k, "dispatcher_telegram_webhook_") {
				out[k[:strings.IndexAny(k+"{", "{")]+reasonOf(k)] = v
			}
		}
		return out
	}
	var got map[string]float64
	require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		got = series(active)
		return got["dispatcher_telegram_webhook_pending_updates"] == 17
	}), "the holder of shard 0 exports what getWebhookInfo says: %v", got)
	require.Equal(t, 1.0, got["dispatcher_telegram_webhook_url_match"])
	require.Greater(t, got["dispatcher_telegram_webhook_last_error_timestamp_seconds/HTTP_5XX"], 0.0)
	require.Empty(t, series(passive), "the other instance exports none of them")

	ev, ok := active.WaitLine(5*time.Second, func(l proctest.Line) bool {
		return l.Name() == "TELEGRAM_WEBHOOK_UNHEALTHY" && l.Str("reason_code") == "WEBHOOK_DELIVERY_FAILED"
	})
	require.True(t, ok, "the delivery error is logged with its reason code")
	require.Equal(t, "HTTP_5XX", ev.Str("webhook_error"))

	out, stderr, code := e.CLI("status")
	require.Equal(t, 0, code, stderr)
	t.Log(out)
	require.Contains(t, out, "url "+url+" (matches), 17 pending update(s), last error")
	require.Contains(t, out, "(HTTP_5XX): Wrong response from the webhook: 502 Bad Gateway")

	// the URL changes under us, and the holder leaves: the other takes over
	e.Bot.SetWebhookInfo(map[string]any{"url": "https://old.example.com/webhook"})
	active.Signal(syscall.SIGTERM)
	require.True(t, proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		got = series(passive)
		v, ok := got["dispatcher_telegram_webhook_url_match"]
		return ok && v == 0
	}), "the new holder of shard 0 checks, and sees the URL mismatch: %v", got)
	_, ok = passive.WaitLine(5*time.Second, func(l proctest.Line) bool {
		return l.Name() == "TELEGRAM_WEBHOOK_UNHEALTHY" && l.Str("reason_code") == "WEBHOOK_URL_MISMATCH"
	})
	require.True(t, ok)

	// and the fix: `webhook set` with no URL registers WEBHOOK_URL
	e.Bot.SetWebhookInfo(nil)
	out, stderr, code = e.CLI("webhook", "set")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "webhook set to "+url)
	require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		return series(passive)["dispatcher_telegram_webhook_url_match"] == 1
	}), "the check sees the URL match again")
}

// reasonOf returns "/REASON" for a series with a reason label, else "".
func reasonOf(series string) string {
	i := strings.Index(series, `reason="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(`reason="`):]
	return "/" + rest[:strings.IndexByte(rest, '"')]
}
