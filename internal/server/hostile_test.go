package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

// exposed is an instance seen from the network, with short HTTP timeouts.
type exposed struct {
	srv  *server.Server
	logs *logtest.Buffer
}

// enqueued counts the updates the instance put on its stream (it also
// dispatches and acknowledges them, so the stream's length says less).
func (e *exposed) enqueued() int { return strings.Count(e.logs.String(), `"name":"QUEUE_ENQUEUE"`) }

// expose starts an instance on miniredis with the given HTTP timeouts and
// waits until it is ready.
func expose(t *testing.T, timeouts server.HTTPTimeouts) *exposed {
	t.Helper()
	m, _ := redistest.Mini(t)
	api := httptest.NewServer(fakebot.New())
	t.Cleanup(api.Close)
	cfg := config.Default()
	cfg.BotToken, cfg.TelegramAPIURL, cfg.WebhookSecret = token, api.URL, secret
	cfg.RedisURL, cfg.ListenAddr, cfg.InstanceID = "redis://"+m.Addr(), "127.0.0.1:0", "hostile"
	cfg.LeaseTTL, cfg.ShutdownTimeout = 2*time.Second, 5*time.Second
	require.NoError(t, cfg.Validate())
	logs := &logtest.Buffer{}
	srv, err := server.NewWith(cfg, logs, server.Options{Bot: refbot.Bot})
	require.NoError(t, err)
	srv.SetHTTPTimeouts(timeouts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e := &exposed{srv: srv, logs: logs}
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + srv.Addr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	return e
}

// post sends a valid update through a fresh connection.
func (e *exposed) post(t *testing.T, id int) int {
	t.Helper()
	body := fmt.Sprintf(`{"update_id":%d,"edited_message":{"message_id":1,"date":1,"chat":{"id":%d,"type":"private"},"text":"x"}}`, id, id)
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.srv.Addr()+"/webhook", strings.NewReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *exposed) rejected(reason string) int {
	return strings.Count(e.logs.String(), `"reason_code":"`+reason+`"`)
}

// dial opens a raw connection and writes head.
func (e *exposed) dial(t *testing.T, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	return conn
}

const slowHead = "POST /webhook HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: " + secret + "\r\n"

func TestHugeHeadersAre431(t *testing.T) {
	e := expose(t, server.DefaultHTTPTimeouts())
	for name, add := range map[string]func(h http.Header){
		"one header of 200 KiB": func(h http.Header) { h.Set("X-Junk", strings.Repeat("a", 200<<10)) },
		"5000 headers of 40 bytes": func(h http.Header) {
			for i := 0; i < 5000; i++ {
				h.Set(fmt.Sprintf("X-J%d", i), strings.Repeat("b", 32))
			}
		},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+e.srv.Addr()+"/webhook", strings.NewReader(startBody))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		add(req.Header)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, name)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, name)
		require.Zero(t, e.enqueued(), "%s: nothing enqueued", name)
	}
	require.Zero(t, strings.Count(e.logs.String(), "WEBHOOK_REJECTED"), "refused by net/http before the webhook")
	require.Equal(t, http.StatusOK, e.post(t, 1), "still serving")
	require.EqualValues(t, 1, e.enqueued())
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	e := expose(t, server.HTTPTimeouts{ReadHeader: 300 * time.Millisecond, Read: 5 * time.Second, Write: 5 * time.Second, Idle: 5 * time.Second})
	conn := e.dial(t, slowHead)
	start := time.Now()
	// a byte of header every 100 ms: never finishes within 300 ms
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := io.WriteString(conn, "X"); err != nil {
				return
			}
		}
	}()
	require.Equal(t, http.StatusOK, e.post(t, 2), "others are served meanwhile")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	took := time.Since(start)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the connection: %v", err)
	require.NotContains(t, string(got), "200 OK", "and did not take the request")
	require.Less(t, took, 3*time.Second, "cut off after ReadHeaderTimeout (300 ms), not later")
	require.EqualValues(t, 1, e.enqueued(), "the slow request enqueued nothing")
	require.Equal(t, http.StatusOK, e.post(t, 3), "still serving")
}

func TestSlowBodyIs400(t *testing.T) {
	e := expose(t, server.HTTPTimeouts{ReadHeader: time.Second, Read: 500 * time.Millisecond, Write: 5 * time.Second, Idle: 5 * time.Second})
	conn := e.dial(t, slowHead+"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"+`{"update_id":77,`)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Less(t, time.Since(start), 3*time.Second, "cut off after ReadTimeout (500 ms)")
	require.Eventually(t, func() bool { return e.rejected("BAD_PAYLOAD") == 1 }, 2*time.Second, 10*time.Millisecond,
		"one WEBHOOK_REJECTED BAD_PAYLOAD")
	require.Zero(t, e.enqueued(), "nothing enqueued")
	require.Equal(t, http.StatusOK, e.post(t, 4), "still serving")
}

// TestManyConnections: 400 connections that never finish their headers do
// not keep 100 concurrent valid updates from being taken, each once.
func TestManyConnections(t *testing.T) {
	e := expose(t, server.DefaultHTTPTimeouts())
	for i := 0; i < 400; i++ {
		e.dial(t, slowHead)
	}
	var wg sync.WaitGroup
	codes := make([]int, 100)
	start := time.Now()
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = e.post(t, 1000+i)
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "update %d", 1000+i)
	}
	require.EqualValues(t, 100, e.enqueued(), "each taken once")
	t.Logf("100 concurrent updates beside 400 stalled connections taken in %s", time.Since(start).Round(time.Millisecond))
	require.Zero(t, strings.Count(e.logs.String(), "WEBHOOK_REJECTED"))
}
