package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/refbot"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

const (
	token  = "123456:TESTtokenTESTtokenTESTtokenTESTtok1"
	secret = "webhook-secret"
)

type instance struct {
	srv  *server.Server
	bot  *fakebot.Server
	logs *logtest.Buffer
	stop func() error
}

func start(t *testing.T, redisURL, ns string) *instance {
	t.Helper()
	return startWith(t, redisURL, ns, nil)
}

// startWith starts an instance whose configuration set changes first.
func startWith(t *testing.T, redisURL, ns string, set func(*config.Config)) *instance {
	t.Helper()
	bot := fakebot.New()
	api := httptest.NewServer(bot)
	t.Cleanup(api.Close)

	cfg := config.Default()
	cfg.BotToken, cfg.TelegramAPIURL, cfg.WebhookSecret = token, api.URL, secret
	cfg.RedisURL, cfg.Namespace = redisURL, ns
	cfg.ListenAddr, cfg.InstanceID = "127.0.0.1:0", "e2e-"+ns
	cfg.LeaseTTL, cfg.ShutdownTimeout = 2*time.Second, 5*time.Second
	if set != nil {
		set(&cfg)
	}
	require.NoError(t, cfg.Validate())
	logs := &logtest.Buffer{}
	srv, err := server.NewWith(cfg, logs, server.Options{Bot: refbot.Bot})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	in := &instance{srv: srv, bot: bot, logs: logs}
	var once sync.Once
	var runErr error
	in.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = in.stop() })
	return in
}

func (in *instance) post(t *testing.T, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+in.srv.Addr()+"/webhook", strings.NewReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (in *instance) readyz(t *testing.T) (int, map[string]any) {
	resp, err := http.Get("http://" + in.srv.Addr() + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

const startBody = `{"update_id":5001,"message":{"message_id":1,"date":1764300000,"text":"/start",` +
	`"chat":{"id":77,"type":"private"},"from":{"id":77,"is_bot":false,"first_name":"E"},` +
	`"entities":[{"type":"bot_command","offset":0,"length":6}]}}`

func endToEnd(t *testing.T, redisURL, ns string) {
	in := start(t, redisURL, ns)
	// ready and ACTIVE (single instance)
	require.Eventually(t, func() bool {
		code, m := in.readyz(t)
		return code == http.StatusOK && m["role"] == "ACTIVE"
	}, 10*time.Second, 20*time.Millisecond)
	_, m := in.readyz(t)
	shards := m["shards"].(map[string]any)
	require.Equal(t, "ACTIVE", shards["0"].(map[string]any)["role"])
	require.Greater(t, shards["0"].(map[string]any)["token"].(float64), float64(0))

	require.Equal(t, http.StatusOK, in.post(t, startBody))
	ok := in.bot.WaitFor(10*time.Second, func(calls []fakebot.Call) bool {
		for _, c := range calls {
			if c.Method == "sendMessage" {
				return true
			}
		}
		return false
	})
	require.True(t, ok, "no sendMessage recorded; logs:\n%s", in.logs.String())
	send := in.bot.CallsOf("sendMessage")[0]
	require.EqualValues(t, "77", string(send.Params["chat_id"].(json.Number)))
	kb := send.Params["reply_markup"].(map[string]any)["inline_keyboard"].([]any)
	require.NotEmpty(t, kb, "MAIN_MENU has its inline keyboard")

	require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), `"name":"DISPATCH_OK"`) },
		5*time.Second, 10*time.Millisecond)
	logs := in.logs.String()
	for _, ev := range []string{"QUEUE_ENQUEUE", "QUEUE_PICK", "DISPATCH_START", "MESSAGE_RECEIVED", "UI_RENDER", "DISPATCH_OK"} {
		require.Contains(t, logs, `"name":"`+ev+`"`)
	}
	require.Contains(t, logs, `"screen_id":"MAIN_MENU"`)
	require.NotContains(t, logs, token)
	require.NotContains(t, logs, secret)

	resp, err := http.Get("http://" + in.srv.Addr() + "/ops")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no OPS_TOKEN, no sandbox: no ops page")

	require.NoError(t, in.stop(), "graceful stop returns nil")
	require.Contains(t, in.logs.String(), `"name":"LEASE_RELEASED"`)
	require.Contains(t, in.logs.String(), `"name":"SERVICE_STOPPED"`)
}

func TestEndToEndMiniredis(t *testing.T) {
	m, _ := redistest.Mini(t)
	endToEnd(t, "redis://"+m.Addr(), "tgd")
}

func TestEndToEndRedisServer(t *testing.T) {
	endToEnd(t, redistest.URL(t), redistest.Namespace(t))
}

func TestNotReadyWithoutRedisButHealthy(t *testing.T) {
	in := start(t, "redis://127.0.0.1:1", "tgd")
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + in.srv.Addr() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	code, m := in.readyz(t)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "PASSIVE", m["role"])
	require.Equal(t, http.StatusServiceUnavailable, in.post(t, startBody))
	require.Contains(t, in.logs.String(), "REDIS_UNAVAILABLE")
	require.NoError(t, in.stop())
}

// TestOpsPageIsServed: with OPS_TOKEN the instance serves the ops page,
// which reads its Redis (here the embedded kind, miniredis) and journal.
func TestOpsPageIsServed(t *testing.T) {
	const opsToken = "ops-token-for-the-server-test"
	m, _ := redistest.Mini(t)
	in := startWith(t, "redis://"+m.Addr(), "tgd", func(c *config.Config) { c.OpsToken = opsToken })
	require.Eventually(t, func() bool { code, _ := in.readyz(t); return code == http.StatusOK }, 10*time.Second, 20*time.Millisecond)
	get := func(path, auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+in.srv.Addr()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	code, _ := get("/ops", "")
	require.Equal(t, http.StatusSeeOther, code, "to the login form")
	require.Equal(t, http.StatusOK, in.post(t, startBody))
	require.Eventually(t, func() bool {
		code, page := get("/ops?part=live", opsToken)
		return code == http.StatusOK && strings.Contains(page, `data-holder="e2e-tgd"`)
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		_, page := get("/ops/user?id=77", opsToken)
		return strings.Contains(page, "MESSAGE_RECEIVED") && strings.Contains(page, "DISPATCH_OK")
	}, 10*time.Second, 50*time.Millisecond, "the user's chain, from the journal")
	require.NoError(t, in.stop())
	require.NotContains(t, in.logs.String(), opsToken)
}
