package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

const upstreamSecret = "upstream-secret-for-the-test"

// delivery is one request the upstream double received.
type delivery struct {
	body   string
	header http.Header
}

// upstream is the user's bot, as a test double: answer decides each
// delivery's status and body (n counts from 1).
type upstream struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	active map[string]int // chat -> deliveries in flight
	maxPar int
	answer func(n int, d delivery) (int, string)
}

func newUpstream(t *testing.T, answer func(n int, d delivery) (int, string)) *upstream {
	u := &upstream{active: map[string]int{}, answer: answer}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost { // the readiness probe
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		b, _ := io.ReadAll(r.Body)
		d := delivery{body: string(b), header: r.Header.Clone()}
		var up struct {
			Message *struct {
				Chat struct{ ID int64 } `json:"chat"`
			} `json:"message"`
		}
		_ = json.Unmarshal(b, &up)
		chat := ""
		if up.Message != nil {
			chat = strconv.FormatInt(up.Message.Chat.ID, 10)
		}
		u.mu.Lock()
		u.got = append(u.got, d)
		n := len(u.got)
		u.active[chat]++
		u.maxPar = max(u.maxPar, u.active[chat])
		u.mu.Unlock()
		status, body := 200, ""
		if u.answer != nil {
			status, body = u.answer(n, d)
		}
		u.mu.Lock()
		u.active[chat]--
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) deliveries() []delivery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]delivery(nil), u.got...)
}

func startForward(t *testing.T, url string, set func(*config.Config)) *instance {
	t.Helper()
	in := startWith(t, redistest.URL(t), redistest.Namespace(t), func(c *config.Config) {
		c.UpstreamURL, c.UpstreamSecret = url, upstreamSecret
		c.UpstreamSilenceAfter = 300 * time.Millisecond
		if set != nil {
			set(c)
		}
	})
	require.Eventually(t, func() bool {
		code, m := in.readyz(t)
		return code == http.StatusOK && m["role"] == "ACTIVE"
	}, 10*time.Second, 20*time.Millisecond)
	return in
}

func msgBody(id int64, chat int64, text string) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":%q,`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"E"}}}`, id, id, text, chat, chat)
}

func cbBody(id int64, chat int64, qid, data string) string {
	return fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":%q,"from":{"id":%d,"is_bot":false,"first_name":"E"},`+
		`"message":{"message_id":9,"date":1764300000,"chat":{"id":%d,"type":"private"},"text":"menu"},"chat_instance":"1","data":%q}}`,
		id, qid, chat, chat, data)
}

// waitEvent waits for n events of name and returns them.
func waitEvent(t *testing.T, in *instance, name string, n int) []map[string]any {
	t.Helper()
	require.Eventually(t, func() bool { return len(in.logs.Events(name)) >= n }, 15*time.Second, 10*time.Millisecond,
		"want %d %s; logs:\n%s", n, name, in.logs.String())
	return in.logs.Events(name)
}

func TestForwardDeliversAsTelegramWithHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	in := startForward(t, up.srv.URL, nil)
	_, ready := in.readyz(t)
	require.Eventually(t, func() bool { _, m := in.readyz(t); return m["upstream"] == "ok" }, 5*time.Second, 20*time.Millisecond)
	body := msgBody(7001, 77, "hello")
	require.Equal(t, http.StatusOK, in.post(t, body))
	ok := waitEvent(t, in, "DISPATCH_OK", 1)[0]
	got := up.deliveries()
	require.Len(t, got, 1)
	require.Equal(t, body, got[0].body, "the update's original JSON")
	h := got[0].header
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, upstreamSecret, h.Get("X-Telegram-Bot-Api-Secret-Token"))
	require.Equal(t, ok["cid"], h.Get("X-Dispatcher-Cid"))
	require.Equal(t, "0", h.Get("X-Dispatcher-Shard"))
	token := ready["shards"].(map[string]any)["0"].(map[string]any)["token"].(float64)
	require.Equal(t, strconv.Itoa(int(token)), h.Get("X-Dispatcher-Token"))
	require.Equal(t, "1", h.Get("X-Dispatcher-Delivery"))
	require.NotContains(t, in.logs.String(), upstreamSecret)
	for _, c := range in.bot.Calls() {
		// the dispatcher's own calls: getMe (the deployment's bot id) and
		// getWebhookInfo (the webhook check of shard 0's holder); nothing
		// else calls Telegram: no built-in bot runs
		require.Contains(t, []string{"getMe", "getWebhookInfo"}, c.Method, "no built-in bot runs")
	}
}

func TestForwardKeepsPerChatOrderOneAtATime(t *testing.T) {
	up := newUpstream(t, func(n int, d delivery) (int, string) {
		time.Sleep(5 * time.Millisecond) // the bot's work: a window for a second delivery of the chat
		return 200, ""
	})
	in := startForward(t, up.srv.URL, nil)
	const perChat = 15
	for i := 0; i < perChat; i++ {
		for _, chat := range []int64{101, 102, 103} {
			require.Equal(t, http.StatusOK, in.post(t, msgBody(chat*1000+int64(i), chat, "m"+strconv.Itoa(i))))
		}
	}
	waitEvent(t, in, "DISPATCH_OK", 3*perChat)
	last := map[string]int64{}
	for _, d := range up.deliveries() {
		var u struct {
			UpdateID int64 `json:"update_id"`
			Message  struct {
				Chat struct{ ID int64 } `json:"chat"`
			} `json:"message"`
		}
		require.NoError(t, json.Unmarshal([]byte(d.body), &u))
		chat := strconv.FormatInt(u.Message.Chat.ID, 10)
		require.Greater(t, u.UpdateID, last[chat], "chat %s out of order", chat)
		last[chat] = u.UpdateID
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	require.Equal(t, 1, up.maxPar, "one delivery at a time per chat")
}

func TestForwardFailuresAreRetriedThenDeadLettered(t *testing.T) {
	up := newUpstream(t, func(n int, d delivery) (int, string) {
		if strings.Contains(d.body, `"always-fails"`) || n == 1 {
			return 500, `internal error`
		}
		return 200, "ok"
	})
	in := startForward(t, up.srv.URL, func(c *config.Config) { c.MaxDeliveries = 2 })
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7101, 55, "first fails")))
	waitEvent(t, in, "DISPATCH_OK", 1)
	fail := in.logs.Events("DISPATCH_FAIL")
	require.Len(t, fail, 1)
	require.Equal(t, "UPSTREAM_STATUS", fail[0]["error_type"])
	require.Contains(t, fail[0]["error_text"], "upstream answered 500")
	got := up.deliveries()
	require.Equal(t, []string{"1", "2"}, []string{got[0].header.Get("X-Dispatcher-Delivery"), got[1].header.Get("X-Dispatcher-Delivery")})

	require.Equal(t, http.StatusOK, in.post(t, msgBody(7102, 56, "always-fails")))
	dl := waitEvent(t, in, "DEAD_LETTERED", 1)
	require.Equal(t, "MAX_DELIVERIES", dl[0]["reason_code"])
	require.Len(t, in.logs.Events("DISPATCH_FAIL"), 3)
}

func TestForwardUnreachableTimeoutAndGarbage(t *testing.T) {
	// a port nobody listens on
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadURL := "http://" + ln.Addr().String() + "/hook"
	require.NoError(t, ln.Close())
	in := startForward(t, deadURL, func(c *config.Config) { c.MaxDeliveries = 1 })
	code, m := in.readyz(t)
	require.Equal(t, http.StatusOK, code, "an upstream that is down does not make the instance unready")
	require.Equal(t, "unreachable", m["upstream"])
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7201, 57, "x")))
	fail := waitEvent(t, in, "DISPATCH_FAIL", 1)
	require.Equal(t, "UPSTREAM_UNREACHABLE", fail[0]["error_type"])
	waitEvent(t, in, "DEAD_LETTERED", 1)
	require.NoError(t, in.stop())

	// an upstream that hangs past UPSTREAM_TIMEOUT
	release := make(chan struct{})
	hang := newUpstream(t, func(n int, d delivery) (int, string) { <-release; return 200, "" })
	t.Cleanup(func() { close(release) })
	in = startForward(t, hang.srv.URL, func(c *config.Config) {
		c.MaxDeliveries, c.UpstreamTimeout, c.HandlerTimeout = 1, 300*time.Millisecond, 2*time.Second
	})
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7202, 58, "x")))
	fail = waitEvent(t, in, "DISPATCH_FAIL", 1)
	require.Equal(t, "HANDLER_TIMEOUT", fail[0]["error_type"])
	require.Contains(t, fail[0]["error_text"], "UPSTREAM_TIMEOUT")
	require.NoError(t, in.stop())

	// an upstream that answers garbage (not HTTP)
	junk, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { junk.Close() })
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("garbage\r\n\r\n"))
			_ = c.Close()
		}
	}()
	in = startForward(t, "http://"+junk.Addr().String()+"/", func(c *config.Config) { c.MaxDeliveries = 1 })
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7203, 59, "x")))
	fail = waitEvent(t, in, "DISPATCH_FAIL", 1)
	require.Equal(t, "UPSTREAM_UNREACHABLE", fail[0]["error_type"])
	code, _ = in.readyz(t)
	require.Equal(t, http.StatusOK, code)
}

func TestForwardExecutesTheWebhookReply(t *testing.T) {
	up := newUpstream(t, func(n int, d delivery) (int, string) {
		if strings.Contains(d.body, "unknown") {
			return 200, `{"method":"noSuchMethod","chat_id":60}`
		}
		return 200, `{"method":"sendMessage","chat_id":60,"text":"pong","reply_markup":{"inline_keyboard":[[{"text":"Again","callback_data":"again"}]]}}`
	})
	in := startForward(t, up.srv.URL, nil)
	in.bot.SetFault(func(method string, n int) *fakebot.Fault {
		if method == "noSuchMethod" {
			return &fakebot.Fault{Status: 404, Description: "Not Found"}
		}
		return nil
	})
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7301, 60, "ping")))
	ok := waitEvent(t, in, "DISPATCH_OK", 1)[0]
	sends := in.bot.CallsOf("sendMessage")
	require.Len(t, sends, 1, "the reply was made before the update was acknowledged")
	require.Equal(t, "pong", sends[0].Params["text"])
	_, hasMethod := sends[0].Params["method"]
	require.False(t, hasMethod)
	call := in.logs.Events("BOT_API_CALL")
	require.Len(t, call, 1)
	require.Equal(t, ok["cid"], call[0]["cid"])
	require.Equal(t, "sendMessage", call[0]["method"])
	ui := in.logs.Events("UI_RENDER")
	require.Len(t, ui, 1)
	require.Equal(t, []any{"again"}, ui[0]["button_ids"])

	// a reply with an unknown method: Telegram's 404 is logged, the update
	// still ends (Telegram does not redeliver for a failed reply either)
	require.Equal(t, http.StatusOK, in.post(t, msgBody(7302, 60, "unknown")))
	waitEvent(t, in, "DISPATCH_OK", 2)
	apiErr := in.logs.Events("TELEGRAM_API_ERROR")
	require.Len(t, apiErr, 1)
	require.EqualValues(t, 404, apiErr[0]["status"])
	require.Equal(t, "noSuchMethod", apiErr[0]["method"])
	require.Empty(t, in.logs.Events("DISPATCH_FAIL"))
}

func TestForwardSilenceGuardAnswersUnansweredCallbacks(t *testing.T) {
	var proxy string
	up := newUpstream(t, func(n int, d delivery) (int, string) {
		if strings.Contains(d.body, `"answer-me"`) {
			// the bot answers through the proxy, as grammY would
			res, err := http.Post(proxy+"/answerCallbackQuery", "application/json", strings.NewReader(`{"callback_query_id":"q-answered","text":"ok!"}`))
			if err == nil {
				res.Body.Close()
			}
		}
		return 200, ""
	})
	in := startForward(t, up.srv.URL, nil)
	proxy = "http://" + in.srv.Addr() + "/bot" + token
	require.Equal(t, http.StatusOK, in.post(t, cbBody(7401, 61, "q-answered", "answer-me")))
	require.Equal(t, http.StatusOK, in.post(t, cbBody(7402, 62, "q-silent", "ignore-me")))
	warn := waitEvent(t, in, "SILENCE_WARNING", 1)
	require.True(t, in.bot.WaitFor(5*time.Second, func(calls []fakebot.Call) bool {
		return len(in.bot.CallsOf("answerCallbackQuery")) == 2
	}))
	answers := in.bot.CallsOf("answerCallbackQuery")
	require.Equal(t, "q-answered", answers[0].Params["callback_query_id"])
	require.Equal(t, "q-silent", answers[1].Params["callback_query_id"])
	cid := map[float64]any{}
	for _, e := range waitEvent(t, in, "DISPATCH_OK", 2) {
		cid[e["update_id"].(float64)] = e["cid"]
	}
	require.Equal(t, cid[7402], warn[0]["cid"], "the warning is about the silent callback")
	ans := waitEvent(t, in, "ANSWER_CALLBACK_QUERY", 2)
	require.Equal(t, cid[7401], ans[0]["cid"], "the bot's answer carries its update's cid")
	require.Equal(t, "ok!", ans[0]["text"])
	require.Equal(t, cid[7402], ans[1]["cid"])
	require.Len(t, in.logs.Events("SILENCE_WARNING"), 1, "the answered callback got no warning")
}

func TestForwardConfigIsValidated(t *testing.T) {
	c := config.Default()
	c.Sandbox, c.UpstreamURL, c.UpstreamTimeout, c.HandlerTimeout = true, "http://bot:3000/hook", 30*time.Second, 30*time.Second
	require.ErrorContains(t, c.Validate(), "UPSTREAM_TIMEOUT: must be below HANDLER_TIMEOUT (30s), got 30s")
	c.UpstreamTimeout, c.UpstreamURL = time.Second, "bot:3000"
	require.ErrorContains(t, c.Validate(), "UPSTREAM_URL: must be an http:// or https:// URL")
}
