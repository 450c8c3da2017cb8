package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
)

const secret = "s3cret-token_ok"

type fixture struct {
	srv  *httptest.Server
	h    *ingest.Handler
	c    redis.UniversalClient
	ks   keys.Space
	logs *logtest.Buffer
	m    *metrics.Metrics
}

func newFixture(t *testing.T, c redis.UniversalClient, ns string, maxBacklog int) *fixture {
	t.Helper()
	logs := &logtest.Buffer{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "ingest-test", Output: logs,
		Secrets: []string{secret}})
	require.NoError(t, err)
	ks := keys.New(ns)
	m := metrics.NewTest()
	q := queue.New(c, ks, queue.Options{Shards: 2, MaxBacklog: maxBacklog, DedupeWindow: time.Minute})
	// through the batcher, as the server runs it (group commit)
	b := queue.NewBatcher(q, queue.BatchOptions{Timeout: ingest.EnqueueTimeout})
	h := ingest.New(ingest.Config{Queue: q, Batcher: b, Log: log, Metrics: m, Secret: secret, Instance: "ingest-test"})
	srv := httptest.NewServer(h)
	t.Cleanup(b.Close)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, h: h, c: c, ks: ks, logs: logs, m: m}
}

func (f *fixture) post(t *testing.T, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(ingest.SecretHeader, secret)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) streamLen(t *testing.T) int64 {
	var n int64
	for s := 0; s < 2; s++ {
		l, err := f.c.XLen(context.Background(), f.ks.Shard(s).Stream()).Result()
		if err != redis.Nil {
			require.NoError(t, err)
		}
		n += l
	}
	return n
}

// events returns the decoded log lines.
func (f *fixture) events(t *testing.T) []map[string]any { return f.logs.Events() }

func fixtureUpdate(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join(updatetest.Dir(updatetest.Fixtures), name))
	require.NoError(t, err)
	return b
}

func startUpdate(id int) []byte {
	return []byte(`{"update_id":` + itoa(id) + `,"message":{"message_id":1,"date":1764300000,"text":"/start",` +
		`"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},` +
		`"entities":[{"type":"bot_command","offset":0,"length":6}]}}`)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// runBoth runs a test against miniredis and against the real redis-server.
func runBoth(t *testing.T, f func(t *testing.T, c redis.UniversalClient, ns string)) {
	t.Run("miniredis", func(t *testing.T) {
		_, c := redistest.Mini(t)
		f(t, c, "tgd")
	})
	t.Run("redis-server", func(t *testing.T) {
		c, ns := redistest.Client(t)
		f(t, c, ns)
	})
}

func TestEveryAnswerOfTheWebhook(t *testing.T) {
	runBoth(t, func(t *testing.T, c redis.UniversalClient, ns string) {
		f := newFixture(t, c, ns, 1000)

		code, body := f.post(t, startUpdate(1), nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Regexp(t, `^\{"ok":true,"cid":"[0-9a-f]{8}"\}$`, body)
		require.EqualValues(t, 1, f.streamLen(t))

		code, _ = f.post(t, startUpdate(1), nil)
		require.Equal(t, http.StatusOK, code, "a repeat is answered 200")
		require.EqualValues(t, 1, f.streamLen(t), "and not enqueued again")

		code, _ = f.post(t, startUpdate(2), map[string]string{ingest.SecretHeader: ""})
		require.Equal(t, http.StatusUnauthorized, code, "missing secret")
		code, _ = f.post(t, startUpdate(2), map[string]string{ingest.SecretHeader: "wrong"})
		require.Equal(t, http.StatusUnauthorized, code, "wrong secret")

		for _, bad := range []string{``, `[]`, `{"message":{}}`, `{"update_id":"7"}`, `{"update_id":1.5}`,
			`{"update_id":-3}`, `{"update_id":7`, strings.Repeat("[", 20000), `{"update_id":7} {}`} {
			code, _ = f.post(t, []byte(bad), nil)
			require.Equal(t, http.StatusBadRequest, code, "body %.40q", bad)
		}

		big := append([]byte(`{"update_id":9,"message":{"text":"`), bytes.Repeat([]byte("a"), ingest.MaxBody)...)
		big = append(big, `"}}`...)
		code, _ = f.post(t, big, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, code)

		resp, err := http.Get(f.srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, "POST", resp.Header.Get("Allow"))

		require.EqualValues(t, 1, f.streamLen(t), "nothing refused was enqueued")

		reasons := map[string]int{}
		names := map[string]int{}
		for _, e := range f.events(t) {
			names[e["name"].(string)]++
			if r, ok := e["reason_code"].(string); ok {
				reasons[r]++
			}
			require.NotContains(t, e, "secret")
		}
		require.Equal(t, 1, names["QUEUE_ENQUEUE"])
		require.Equal(t, 1, names["DUPLICATE_UPDATE"])
		require.Equal(t, 2, reasons["UNAUTHORIZED"])
		require.Equal(t, 9, reasons["BAD_PAYLOAD"])
		require.Equal(t, 1, reasons["PAYLOAD_TOO_LARGE"])
		require.Equal(t, 1, reasons["METHOD_NOT_ALLOWED"])
		require.NotContains(t, f.logs.String(), secret)
	})
}

func TestBacklogFullAnswers503ThenRecovers(t *testing.T) {
	runBoth(t, func(t *testing.T, c redis.UniversalClient, ns string) {
		f := newFixture(t, c, ns, 3)
		// one chat: one shard
		for i := 1; i <= 3; i++ {
			code, _ := f.post(t, startUpdate(100+i), nil)
			require.Equal(t, http.StatusOK, code)
		}
		code, _ := f.post(t, startUpdate(104), nil)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, f.logs.String(), `"reason_code":"BACKLOG_FULL"`)
		// the refused update was not remembered: once there is room it is taken
		shard := 0
		for s := 0; s < 2; s++ {
			if n, _ := c.XLen(context.Background(), f.ks.Shard(s).Stream()).Result(); n == 3 {
				shard = s
			}
		}
		ids, err := c.XRange(context.Background(), f.ks.Shard(shard).Stream(), "-", "+").Result()
		require.NoError(t, err)
		require.NoError(t, c.XDel(context.Background(), f.ks.Shard(shard).Stream(), ids[0].ID).Err())
		code, _ = f.post(t, startUpdate(104), nil)
		require.Equal(t, http.StatusOK, code)
	})
}

func TestRedisDownAnswers503AndShutdownToo(t *testing.T) {
	m, c := redistest.Mini(t)
	f := newFixture(t, c, "tgd", 100)
	code, _ := f.post(t, startUpdate(1), nil)
	require.Equal(t, http.StatusOK, code)

	m.Close()
	code, _ = f.post(t, startUpdate(2), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, f.logs.String(), `"reason_code":"REDIS_UNAVAILABLE"`)

	f.h.Stop()
	code, _ = f.post(t, startUpdate(3), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, f.logs.String(), `"reason_code":"SHUTTING_DOWN"`)
}

func TestEveryFixtureIsAccepted(t *testing.T) {
	_, c := redistest.Mini(t)
	f := newFixture(t, c, "tgd", 1000)
	n := 0
	for _, b := range updatetest.Bodies(t, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		code, resp := f.post(t, b.JSON, nil)
		require.Equal(t, http.StatusOK, code, "%s/%s: %s", b.Set, b.Name, resp)
		n++
	}
	require.Greater(t, n, 60)
	require.EqualValues(t, n, f.streamLen(t), "each one enqueued")
	require.NotContains(t, f.logs.String(), "WEBHOOK_REJECTED")
}

// TestWhatIsAnUpdate: 400 only for a body that is not a JSON object with
// an integer update_id ≥ 0 (CONTRACT §3); everything else is taken as it
// is, known or not, and read only for its type, chat and user.
func TestWhatIsAnUpdate(t *testing.T) {
	_, c := redistest.Mini(t)
	f := newFixture(t, c, "tgd", 1000)
	for _, body := range []string{
		`{"update_id":0}`, // Telegram's ids are positive, but 0 is an integer
		`{"update_id":1,"message_story":{"chat":{"id":5}}}`,
		`{"update_id":2,"message":{"chat":{"id":"not a number"}},"x":[1,{"y":null}]}`,
		`{"update_id":3,"message_reaction":{"chat":{"id":7,"type":"private"},"message_id":1,"date":1,` +
			`"old_reaction":[],"new_reaction":[{"type":"paid_v2"}]}}`,
		` {"update_id":9223372036854775807} `,
	} {
		code, resp := f.post(t, []byte(body), nil)
		require.Equal(t, http.StatusOK, code, "%s: %s", body, resp)
	}
	code, resp := f.post(t, []byte(`{"update_id":0}`), nil)
	require.Equal(t, http.StatusOK, code, "a repeat of 0 is a duplicate: %s", resp)
	require.EqualValues(t, 5, f.streamLen(t))

	for body, why := range map[string]string{
		`{"update_id":-1}`:            "body is not an Update: update_id is negative",
		`{"update_id":1.5}`:           "body is not an Update: update_id is not an integer: 1.5",
		`{"message":{}}`:              "body is not an Update: no update_id",
		`[{"update_id":1}]`:           "body is not an Update: the body is not a JSON object",
		`{"update_id":1,"message":{}`: "body is not an Update: invalid JSON: unexpected end of input",
	} {
		code, resp := f.post(t, []byte(body), nil)
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Contains(t, resp, why, body)
	}
	require.EqualValues(t, 5, f.streamLen(t), "nothing refused was enqueued")
	e := f.logs.Events()
	var types []string
	for _, ev := range e {
		if ev["name"] == "QUEUE_ENQUEUE" {
			types = append(types, ev["update_type"].(string))
		}
	}
	require.Equal(t, []string{"unknown", "unknown", "message", "message_reaction", "unknown"}, types)
}

// A 503 says only its reason code: Redis's error text (its address, its
// messages) goes to the log line, never to whoever posts to the webhook.
func TestServiceUnavailableBodyIsTheReasonCodeOnly(t *testing.T) {
	c, ns := redistest.Client(t)
	f := newFixture(t, c, ns, 1)
	code, _ := f.post(t, startUpdate(1), nil)
	require.Equal(t, http.StatusOK, code)
	code, body := f.post(t, startUpdate(2), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "BACKLOG_FULL\n", body)

	dead := redistest.DeadClient(t)
	g := newFixture(t, dead, ns, 100)
	code, body = g.post(t, startUpdate(3), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "REDIS_UNAVAILABLE\n", body)
	addr := dead.Options().Addr
	rej := g.logs.Events()
	require.NotEmpty(t, rej)
	last := rej[len(rej)-1]
	require.Equal(t, "REDIS_UNAVAILABLE", last["reason_code"])
	require.Contains(t, last["reason_text"], addr, "the details are in the log")

	g.h.Stop()
	code, body = g.post(t, startUpdate(4), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "SHUTTING_DOWN\n", body)
}

// TestHeldWebhookRefusesWithTheHoldsReason: Hold answers 503 with its
// reason code and appends nothing; Open serves again.
func TestHeldWebhookRefusesWithTheHoldsReason(t *testing.T) {
	_, c := redistest.Mini(t)
	f := newFixture(t, c, "tgd", 100)
	f.h.Hold(telemetry.ReasonStarting, "starting")
	code, body := f.post(t, startUpdate(1), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "STARTING\n", body)
	require.Contains(t, f.logs.String(), `"reason_code":"STARTING"`)
	require.Zero(t, f.streamLen(t))
	f.h.Open()
	code, _ = f.post(t, startUpdate(1), nil)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 1, f.streamLen(t))
}
