package botproxy_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
)

const token = "123456:PROXYtestPROXYtestPROXYtestPROXYte"

// seen is one request as Telegram (the test double) received it.
type seen struct {
	method, path, query, contentType string
	size                             int64
	sum                              [32]byte
	head                             []byte // the first 4 KiB
}

// telegramDouble records each request byte for byte (streamed into a
// hash, never held) and answers with answer(n), n counting from 1.
type telegramDouble struct {
	srv    *httptest.Server
	mu     sync.Mutex
	seen   []seen
	n      atomic.Int32
	answer func(n int) (int, string)
}

func newTelegram(t *testing.T, answer func(n int) (int, string)) *telegramDouble {
	d := &telegramDouble{answer: answer}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		var head bytes.Buffer
		n, _ := io.Copy(io.MultiWriter(h, &limitWriter{w: &head, n: 4096}), r.Body)
		s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"), size: n, head: head.Bytes()}
		copy(s.sum[:], h.Sum(nil))
		d.mu.Lock()
		d.seen = append(d.seen, s)
		d.mu.Unlock()
		status, body := 200, `{"ok":true,"result":true}`
		if d.answer != nil {
			status, body = d.answer(int(d.n.Add(1)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *telegramDouble) requests() []seen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]seen(nil), d.seen...)
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// leader is a Leadership double: it leads the shards in held, under token.
type leader struct {
	mu    sync.Mutex
	held  map[int]int64
	valid bool // Valid's answer for a running delivery
}

func (l *leader) Valid(shard int, token int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.valid && l.held[shard] == token
}

func (l *leader) Token(shard int) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tok, ok := l.held[shard]; ok {
		return tok, nil
	}
	return 0, errors.New("not held")
}

// deliveries is a Deliveries double.
type deliveries struct {
	mu       sync.Mutex
	chats    map[int64]botproxy.Delivery
	queries  map[string]botproxy.Delivery
	answered []string
}

func (d *deliveries) ForChat(c int64) (botproxy.Delivery, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.chats[c]
	return x, ok
}

func (d *deliveries) ForQuery(id string) (botproxy.Delivery, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.queries[id]
	return x, ok
}

func (d *deliveries) Answered(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answered = append(d.answered, id)
}

type rig struct {
	tg    *telegramDouble
	proxy *httptest.Server
	logs  *logtest.Buffer
	lead  *leader
	dels  *deliveries
}

// two shards: even chats on 0, odd on 1 (the rig's ShardOf)
func newRig(t *testing.T, answer func(n int) (int, string)) *rig {
	t.Helper()
	r := &rig{tg: newTelegram(t, answer), logs: &logtest.Buffer{},
		lead: &leader{held: map[int]int64{0: 7}, valid: true},
		dels: &deliveries{chats: map[int64]botproxy.Delivery{}, queries: map[string]botproxy.Delivery{}}}
	log, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.InfoLevel, Instance: "proxy-test",
		Secrets: []string{token}, Output: r.logs})
	require.NoError(t, err)
	p, err := botproxy.New(botproxy.Config{Token: token, APIURL: r.tg.srv.URL, Log: log, Deliveries: r.dels,
		Leadership: r.lead, ShardOf: func(c int64) int { return int(c & 1) }, TempDir: t.TempDir(), MaxRetryWait: 3 * time.Second})
	require.NoError(t, err)
	r.proxy = httptest.NewServer(p)
	t.Cleanup(r.proxy.Close)
	return r
}

func (r *rig) url(method string) string { return r.proxy.URL + "/bot" + token + "/" + method }

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func post(t *testing.T, u, contentType string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	return do(t, req)
}

func TestWrongTokenIs401AndNeverLogged(t *testing.T) {
	r := newRig(t, nil)
	for _, path := range []string{"/bot123456:WRONG/sendMessage", "/bot" + token + "x/getMe", "/file/botnope/photos/a.jpg", "/bot"} {
		status, body := post(t, r.proxy.URL+path, "application/json", strings.NewReader(`{"chat_id":2,"text":"hi"}`))
		require.Equal(t, http.StatusUnauthorized, status, path)
		require.Equal(t, botproxy.BodyUnauthorized, body, path)
	}
	require.Empty(t, r.tg.requests(), "nothing reached Telegram")
	require.NotContains(t, r.logs.String(), "PROXYtest", "the token is never logged")
	require.Len(t, r.logs.Events("BOT_API_CALL"), 4)
}

func TestPassesThroughJSONFormQueryAndErrors(t *testing.T) {
	r := newRig(t, func(n int) (int, string) {
		if n == 3 {
			return 400, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`
		}
		return 200, fmt.Sprintf(`{"ok":true,"result":{"n":%d}}`, n)
	})
	jsonBody := `{"chat_id":2,"text":"héllo","parse_mode":"HTML"}`
	status, body := post(t, r.url("sendMessage")+"?disable_notification=true", "application/json", strings.NewReader(jsonBody))
	require.Equal(t, 200, status)
	require.Equal(t, `{"ok":true,"result":{"n":1}}`, body)

	form := url.Values{"chat_id": {"4"}, "text": {"a & b"}}.Encode()
	status, _ = post(t, r.url("sendMessage"), "application/x-www-form-urlencoded", strings.NewReader(form))
	require.Equal(t, 200, status)

	req, _ := http.NewRequest(http.MethodGet, r.url("sendMessage")+"?chat_id=6&text=", nil)
	status, body = do(t, req)
	require.Equal(t, 400, status, "Telegram's status unchanged")
	require.Equal(t, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`, body, "and its body")

	got := r.tg.requests()
	require.Len(t, got, 3)
	require.Equal(t, "POST", got[0].method)
	require.Equal(t, "/bot"+token+"/sendMessage", got[0].path)
	require.Equal(t, "disable_notification=true", got[0].query)
	require.Equal(t, "application/json", got[0].contentType)
	require.Equal(t, sha256.Sum256([]byte(jsonBody)), got[0].sum, "the same bytes")
	require.Equal(t, "application/x-www-form-urlencoded", got[1].contentType)
	require.Equal(t, sha256.Sum256([]byte(form)), got[1].sum)
	require.Equal(t, "GET", got[2].method)
	require.Equal(t, "chat_id=6&text=", got[2].query)

	calls := r.logs.Events("BOT_API_CALL")
	require.Len(t, calls, 3)
	require.EqualValues(t, 400, calls[2]["status"])
	require.Len(t, r.logs.Events("TELEGRAM_API_ERROR"), 1)
}

// pattern is a reader of n bytes of a repeating pattern, made as read.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.off)
	for i := int64(0); i < k; i++ {
		b[i] = byte('a' + (p.off+i)%26)
	}
	p.off += k
	return int(k), nil
}

// multipartBody streams a multipart body: the file first, then chat_id
// (so that the fence can decide only after the upload), and returns its
// Content-Type and the sha256 of every byte.
func multipartBody(size int64, chat string) (io.Reader, string, *[32]byte) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sum := new([32]byte)
	h := sha256.New()
	go func() {
		w := io.MultiWriter(pw, h)
		mw2 := multipart.NewWriter(w)
		_ = mw2.SetBoundary(mw.Boundary())
		fw, _ := mw2.CreateFormFile("document", "big.bin")
		_, _ = io.Copy(fw, &pattern{n: size})
		_ = mw2.WriteField("chat_id", chat)
		_ = mw2.WriteField("caption", "a file")
		_ = mw2.Close()
		copy(sum[:], h.Sum(nil))
		_ = pw.Close()
	}()
	return pr, mw.FormDataContentType(), sum
}

func TestMultipartUploadStreamsThroughUnchanged(t *testing.T) {
	r := newRig(t, nil)
	const size = 24 << 20
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	body, ct, sum := multipartBody(size, "2")
	status, _ := post(t, r.url("sendDocument"), ct, body)
	runtime.ReadMemStats(&after)
	require.Equal(t, 200, status)
	got := r.tg.requests()
	require.Len(t, got, 1)
	require.Equal(t, ct, got[0].contentType, "the same boundary")
	require.Greater(t, got[0].size, int64(size))
	require.Equal(t, *sum, got[0].sum, "every byte of the upload, unchanged")
	peak := after.HeapInuse
	t.Logf("heap in use after a %d MiB upload: %d MiB (before %d MiB); allocated during it %d MiB",
		size>>20, peak>>20, before.HeapInuse>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(size/2), "the upload is not held in memory")
}

func TestFenceRefusesChatsOfShardsNotLed(t *testing.T) {
	r := newRig(t, nil)
	// chat 3 is on shard 1, which this instance does not lead
	cid := "0badc0de"
	r.dels.chats[3] = botproxy.Delivery{Update: telemetry.Update{CID: cid, UpdateID: 9, Type: "callback_query", ChatID: 3, UserID: 3, Shard: 1}, Token: 4}
	mp, ct, _ := multipartBody(1<<10, "3")
	cases := []struct {
		name string
		req  func() (int, string)
	}{
		{"json", func() (int, string) {
			return post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":3,"text":"late"}`))
		}},
		{"json string id", func() (int, string) {
			return post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":"3","text":"late"}`))
		}},
		{"form", func() (int, string) {
			return post(t, r.url("sendMessage"), "application/x-www-form-urlencoded", strings.NewReader("chat_id=3&text=late"))
		}},
		{"query", func() (int, string) {
			req, _ := http.NewRequest(http.MethodGet, r.url("sendMessage")+"?chat_id=3&text=late", nil)
			return do(t, req)
		}},
		{"multipart", func() (int, string) { return post(t, r.url("sendDocument"), ct, mp) }},
	}
	for _, c := range cases {
		status, body := c.req()
		require.Equal(t, http.StatusConflict, status, c.name)
		require.Equal(t, botproxy.BodyConflict, body, c.name)
	}
	require.Empty(t, r.tg.requests(), "no refused call reached Telegram")
	rej := r.logs.Events("CALLBACK_REJECTED")
	require.Len(t, rej, len(cases))
	require.Equal(t, "PASSIVE_REJECT", rej[0]["reason_code"])
	require.Equal(t, cid, rej[0]["cid"], "the REJECTED event of the update delivered for that chat")

	// a chat this instance never delivered to, on a shard it does not lead
	status, _ := post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":5,"text":"x"}`))
	require.Equal(t, http.StatusConflict, status)
	// on a shard it leads, and calls naming no chat, pass through
	status, _ = post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":4,"text":"x"}`))
	require.Equal(t, 200, status)
	status, _ = post(t, r.url("getMe"), "application/json", strings.NewReader(`{}`))
	require.Equal(t, 200, status)
	status, _ = post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":"@channel","text":"x"}`))
	require.Equal(t, 200, status, "a @username names no shard")
	require.Len(t, r.tg.requests(), 3)
}

func TestFenceRefusesQueriesOfAnOldTerm(t *testing.T) {
	r := newRig(t, nil)
	// a callback delivered on shard 0 under token 5; the instance leads
	// shard 0 again, under token 7: the running delivery's calls are refused
	r.dels.queries["cbq-1"] = botproxy.Delivery{Update: telemetry.Update{CID: "1234abcd", Type: "callback_query", ChatID: 2, Shard: 0}, Token: 5, Running: true}
	status, body := post(t, r.url("answerCallbackQuery"), "application/json", strings.NewReader(`{"callback_query_id":"cbq-1"}`))
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, botproxy.BodyConflict, body)
	// inline query of a delivery on a shard not led
	r.dels.queries["iq-1"] = botproxy.Delivery{Update: telemetry.Update{CID: "2234abcd", Type: "inline_query", UserID: 3, Shard: 1}, Token: 2}
	status, _ = post(t, r.url("answerInlineQuery"), "application/json", strings.NewReader(`{"inline_query_id":"iq-1","results":[]}`))
	require.Equal(t, http.StatusConflict, status)
	// an id this instance never delivered passes through
	status, _ = post(t, r.url("answerCallbackQuery"), "application/json", strings.NewReader(`{"callback_query_id":"other"}`))
	require.Equal(t, 200, status)
	require.Len(t, r.tg.requests(), 1)
}

func TestEventsCarryTheDeliveredCID(t *testing.T) {
	r := newRig(t, nil)
	cid := "c0ffee01"
	r.dels.chats[2] = botproxy.Delivery{Update: telemetry.Update{CID: cid, UpdateID: 11, Type: "callback_query", ChatID: 2, UserID: 2}, Token: 7, Running: true}
	r.dels.queries["cbq-2"] = r.dels.chats[2]
	status, _ := post(t, r.url("editMessageText"), "application/json", strings.NewReader(
		`{"chat_id":2,"message_id":5,"text":"Menu","reply_markup":{"inline_keyboard":[[{"text":"A","callback_data":"menu:a"},{"text":"B","callback_data":"menu:b"}],[{"text":"site","url":"https://example.org"}]]}}`))
	require.Equal(t, 200, status)
	form := url.Values{"chat_id": {"2"}, "text": {"x"}, "reply_markup": {`{"inline_keyboard":[[{"text":"C","callback_data":"c"}]]}`}}.Encode()
	status, _ = post(t, r.url("sendMessage"), "application/x-www-form-urlencoded", strings.NewReader(form))
	require.Equal(t, 200, status)
	status, _ = post(t, r.url("answerCallbackQuery"), "application/json", strings.NewReader(`{"callback_query_id":"cbq-2","text":"Done"}`))
	require.Equal(t, 200, status)

	ui := r.logs.Events("UI_RENDER")
	require.Len(t, ui, 2)
	require.Equal(t, []any{"menu:a", "menu:b"}, ui[0]["button_ids"])
	require.Equal(t, "editMessageText", ui[0]["screen_id"])
	require.Equal(t, cid, ui[0]["cid"])
	require.Equal(t, []any{"c"}, ui[1]["button_ids"])
	ans := r.logs.Events("ANSWER_CALLBACK_QUERY")
	require.Len(t, ans, 1)
	require.Equal(t, "Done", ans[0]["text"])
	require.Equal(t, cid, ans[0]["cid"])
	require.Equal(t, []string{"cbq-2"}, r.dels.answered)
	for _, e := range r.logs.Events("BOT_API_CALL") {
		require.Equal(t, cid, e["cid"])
	}
}

func TestRetries429ButNot5xx(t *testing.T) {
	r := newRig(t, func(n int) (int, string) {
		switch n {
		case 1:
			return 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`
		case 3:
			return 502, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`
		}
		return 200, `{"ok":true,"result":true}`
	})
	start := time.Now()
	status, _ := post(t, r.url("answerCallbackQuery"), "application/json", strings.NewReader(`{"callback_query_id":"q"}`))
	require.Equal(t, 200, status, "a 429 is waited out and retried")
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	status, body := post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":2,"text":"x"}`))
	require.Equal(t, 502, status, "a 5xx goes back to the bot, not retried")
	require.Equal(t, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`, body)
	require.Len(t, r.tg.requests(), 3)
}

func TestTelegramUnreachableIs502(t *testing.T) {
	r := newRig(t, nil)
	r.tg.srv.Close()
	status, body := post(t, r.url("sendMessage"), "application/json", strings.NewReader(`{"chat_id":2,"text":"x"}`))
	require.Equal(t, http.StatusBadGateway, status)
	require.Contains(t, body, `"error_code":502`)
	require.NotContains(t, r.logs.String(), "PROXYtest")
	require.Len(t, r.logs.Events("TELEGRAM_API_ERROR"), 1)
}
