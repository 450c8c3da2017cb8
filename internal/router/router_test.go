package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

type buf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }

func (b *buf) events() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.b.String(), "\n") {
		if l == "" {
			continue
		}
		var e map[string]any
		if json.Unmarshal([]byte(l), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func (b *buf) names() []string {
	var out []string
	for _, e := range b.events() {
		out = append(out, e["name"].(string))
	}
	return out
}

func (b *buf) first(name string) map[string]any {
	for _, e := range b.events() {
		if e["name"] == name {
			return e
		}
	}
	return nil
}

type env struct {
	r    *router.Router
	fake *fakebot.Server
	logs *buf
}

func newEnv(t *testing.T, o router.Options) *env {
	t.Helper()
	fake := fakebot.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	logs := &buf{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "r", Output: logs})
	require.NoError(t, err)
	tg, err := telegram.New(telegram.Config{Token: telegram.SandboxToken, APIURL: srv.URL, Log: log, NoLimits: true})
	require.NoError(t, err)
	o.Log, o.Telegram = log, tg
	r, err := router.New(o)
	require.NoError(t, err)
	return &env{r: r, fake: fake, logs: logs}
}

func parse(t *testing.T, raw string) *update.Update {
	t.Helper()
	u, err := update.Parse([]byte(raw))
	require.NoError(t, err)
	return u
}

func textUpdate(t *testing.T, id int, user int64, text string) *update.Update {
	return parse(t, fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat":{"id":%d,"type":"private"},"date":1,"text":%q}}`, id, user, user, text))
}

func callbackUpdate(t *testing.T, id int, user int64, data string) *update.Update {
	return parse(t, fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"q%d","from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat_instance":"1","data":%q,"message":{"message_id":5,"chat":{"id":%d,"type":"private"},"date":1,"text":"x"}}}`,
		id, id, user, data, user))
}

func TestUnhandledUpdateTypesMakeNoCall(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true})
	for _, raw := range []string{
		`{"update_id":1,"edited_message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"x"}}`,
		`{"update_id":2,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"photo":[]}}`,
		`{"update_id":3,"inline_query":{"id":"1","from":{"id":1,"is_bot":false,"first_name":"U"},"query":"","offset":""}}`,
		`{"update_id":4,"poll":{"id":"1","question":"q","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`,
	} {
		require.NoError(t, e.r.Handle(context.Background(), parse(t, raw)))
	}
	require.NoError(t, e.r.Handle(context.Background(), nil))
	require.Empty(t, e.fake.Calls())
	require.Empty(t, e.logs.events())
}

func TestCommandsForOtherBotsAreIgnored(t *testing.T) {
	e := newEnv(t, router.Options{Username: "dispatcher_bot"})
	called := 0
	e.r.Command("start", "start", func(c *router.Ctx) error { called++; c.Accept("MAIN_MENU"); return nil })
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 1, 5, "/start@other_bot")))
	require.Zero(t, called)
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 2, 5, "/start@dispatcher_bot")))
	require.Equal(t, 1, called)
	routed := e.logs.first("MESSAGE_ROUTED")
	require.Equal(t, "start", routed["handler"])
}

func TestIdentityIsMadeWhenTheContextHasNone(t *testing.T) {
	e := newEnv(t, router.Options{})
	e.r.Command("start", "start", func(c *router.Ctx) error {
		assert.True(t, telemetry.ValidCID(c.ID.CID))
		assert.EqualValues(t, 77, c.ID.UpdateID)
		assert.EqualValues(t, 5, c.ID.ChatID)
		c.Accept("MAIN_MENU")
		return nil
	})
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 77, 5, "/start")))
	ev := e.logs.first("MESSAGE_ACCEPTED")
	require.Equal(t, float64(77), ev["update_id"])
	require.Equal(t, float64(5), ev["user_id"])
}

func TestTextRoutesByScreenAndScreenErrorsAreDBError(t *testing.T) {
	screens := &screenStub{screen: "PARAM_INPUT"}
	e := newEnv(t, router.Options{Screens: screens})
	var got string
	e.r.Text("PARAM_INPUT", "prompt", func(c *router.Ctx) error { got = c.Message.Text; c.Accept("CONFIRM"); return nil })
	e.r.Fallback("fallback", func(c *router.Ctx) error { c.Reject(telemetry.ReasonUnknownAction, "hint", "", ""); return nil })
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 1, 5, "a prompt")))
	require.Equal(t, "a prompt", got)
	screens.screen = "MAIN_MENU"
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 2, 5, "hello")))
	require.Equal(t, "fallback", e.logs.events()[len(e.logs.events())-2]["handler"])
	screens.err = errors.New("redis down")
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 3, 5, "hello")))
	rej := e.logs.events()[len(e.logs.events())-1]
	require.Equal(t, "MESSAGE_REJECTED", rej["name"])
	require.Equal(t, "DB_ERROR", rej["reason_code"])
	require.Len(t, e.fake.CallsOf("sendMessage"), 2, "the hint and the server error are told")
}

type screenStub struct {
	screen telemetry.ScreenID
	err    error
}

func (s *screenStub) Screen(context.Context, int64, int64) (telemetry.ScreenID, error) {
	return s.screen, s.err
}

func TestMessageHandlerPanicAndTimeout(t *testing.T) {
	e := newEnv(t, router.Options{GuardTimeout: time.Second})
	e.r.Command("boom", "boom", func(c *router.Ctx) error { panic(errors.New("nil map")) })
	// ignores its context for a while (Handle waits for it: see
	// TestHandleWaitsForAHandlerThatIgnoresItsContext)
	e.r.Command("slow", "slow", func(c *router.Ctx) error { time.Sleep(300 * time.Millisecond); return nil })

	err := e.r.Handle(context.Background(), textUpdate(t, 1, 5, "/boom"))
	require.ErrorIs(t, err, router.ErrHandlerPanic)
	var pe *router.PanicError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, string(pe.Stack), "router_test.go", "the stack of the handler's goroutine")
	rej := e.logs.first("MESSAGE_REJECTED")
	require.Equal(t, "HANDLER_PANIC", rej["reason_code"])

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = e.r.Handle(ctx, textUpdate(t, 2, 5, "/slow"))
	require.ErrorIs(t, err, router.ErrHandlerTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var reasons []any
	for _, ev := range e.logs.events() {
		if ev["name"] == "MESSAGE_REJECTED" {
			reasons = append(reasons, ev["reason_code"])
		}
	}
	require.Equal(t, []any{"HANDLER_PANIC", "HANDLER_TIMEOUT"}, reasons)
	require.Len(t, e.fake.CallsOf("sendMessage"), 2, "both users are told, the second after the deadline")
}

// TestHandleWaitsForAHandlerThatIgnoresItsContext: at the deadline the
// callback is refused (HANDLER_TIMEOUT) and answered at once, but Handle
// returns only when the handler has: the worker, which bounds that wait,
// never runs the chat's next dispatch (or the retry) beside it.
func TestHandleWaitsForAHandlerThatIgnoresItsContext(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true, GuardTimeout: time.Second})
	var returned atomic.Int64
	e.r.Callback("slow", "slow", func(c *router.Ctx) error {
		time.Sleep(400 * time.Millisecond) // ignores its context
		returned.Store(time.Now().UnixNano())
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := e.r.Handle(ctx, callbackUpdate(t, 1, 5, "v1:slow"))
	back := time.Now()
	require.ErrorIs(t, err, router.ErrHandlerTimeout)
	require.NotZero(t, returned.Load(), "Handle returned before the handler did")
	require.False(t, back.Before(time.Unix(0, returned.Load())))
	answers := e.fake.CallsOf("answerCallbackQuery")
	require.Len(t, answers, 1, "answered once, by the guard")
	require.True(t, answers[0].At.Before(time.Unix(0, returned.Load())), "the user is answered at the deadline, not when the handler returns")
	rej := e.logs.first("CALLBACK_REJECTED")
	require.Equal(t, "HANDLER_TIMEOUT", rej["reason_code"])
}

// TestAFailedAnswerIsNotCountedAndTheGuardTriesOnceMore: an answer that
// Telegram refused does not count as answered: the guard logs
// SILENCE_WARNING and answers once more, with the handler's text.
func TestAFailedAnswerIsNotCountedAndTheGuardTriesOnceMore(t *testing.T) {
	for _, guardOn := range []bool{true, false} {
		e := newEnv(t, router.Options{SilenceGuard: guardOn})
		e.fake.SetFault(func(method string, n int) *fakebot.Fault {
			if method == "answerCallbackQuery" && n == 1 {
				return &fakebot.Fault{Status: 400, Description: "Bad Request: try again"}
			}
			return nil
		})
		e.r.Callback("ok", "ok", func(c *router.Ctx) error {
			_ = c.Answer("Done")
			c.Accept("MAIN_MENU")
			return nil
		})
		require.NoError(t, e.r.Handle(context.Background(), callbackUpdate(t, 1, 5, "v1:ok")))
		warn := e.logs.first("SILENCE_WARNING")
		require.NotNil(t, warn, "SILENCE_GUARD=%v: a failed answer is a silence", guardOn)
		require.Contains(t, warn["reason_text"], "answerCallbackQuery failed")
		var tried []string
		for _, c := range e.fake.Calls() {
			if c.Method == "answerCallbackQuery" {
				tried = append(tried, fmt.Sprintf("%d %v", c.Status, c.Params["text"]))
			}
		}
		require.Equal(t, []string{"400 Done", "200 Done"}, tried, "SILENCE_GUARD=%v: tried once more, with its text", guardOn)
	}
}

func TestCancelledDispatchIsLeftForTheActiveInstance(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true})
	started := make(chan struct{})
	e.r.Callback("wait", "wait", func(c *router.Ctx) error { close(started); <-c.Done(); return c.Err() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	err := e.r.Handle(ctx, callbackUpdate(t, 1, 5, "v1:wait"))
	require.ErrorIs(t, err, router.ErrCanceled)
	rej := e.logs.first("CALLBACK_REJECTED")
	require.Equal(t, "PASSIVE_REJECT", rej["reason_code"])
	require.Empty(t, e.fake.CallsOf("answerCallbackQuery"), "the ACTIVE instance answers it")
	require.Nil(t, e.logs.first("SILENCE_WARNING"))
}

func TestFencedHandlerErrorIsPassiveReject(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true})
	e.r.Callback("write", "write", func(c *router.Ctx) error {
		return fmt.Errorf("fsm: set: %w", lease.ErrFenced)
	})
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: keys.New("t").Shard(0), Token: 3})
	err := e.r.Handle(ctx, callbackUpdate(t, 1, 5, "v1:write"))
	require.ErrorIs(t, err, lease.ErrFenced)
	require.Equal(t, "PASSIVE_REJECT", e.logs.first("CALLBACK_REJECTED")["reason_code"])
	require.Empty(t, e.fake.CallsOf("answerCallbackQuery"))
}

func TestAdminOnlyRoutes(t *testing.T) {
	e := newEnv(t, router.Options{Admins: func(id int64) bool { return id == 1 }})
	ran := 0
	e.r.Command("debug", "debug", func(c *router.Ctx) error { ran++; c.Accept("DEBUG_PANEL"); return nil }, router.AdminOnly())
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 1, 2, "/debug")))
	require.Zero(t, ran)
	require.Equal(t, "FORBIDDEN", e.logs.first("MESSAGE_REJECTED")["reason_code"])
	require.NoError(t, e.r.Handle(context.Background(), textUpdate(t, 2, 1, "/debug")))
	require.Equal(t, 1, ran)
	require.Contains(t, e.logs.names(), "MESSAGE_ACCEPTED")
}

func TestCallbackOnInlineMessageIsAnswered(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true})
	u := parse(t, `{"update_id":9,"callback_query":{"id":"qi","from":{"id":5,"is_bot":false,"first_name":"U"},
		"chat_instance":"1","inline_message_id":"AAA","data":"v1:noop"}}`)
	require.NoError(t, e.r.Handle(context.Background(), u))
	require.Equal(t, "UNKNOWN_ACTION", e.logs.first("CALLBACK_REJECTED")["reason_code"])
	require.Len(t, e.fake.CallsOf("answerCallbackQuery"), 1)
}
