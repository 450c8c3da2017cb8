package dispatcher

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func message(id int64, text string) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1,"chat":{"id":42,"type":"private"},`+
		`"from":{"id":42,"is_bot":false,"first_name":"A"},"text":%q}}`, id, id, text)
}

func press(id int64, data string) string {
	return fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"q%d","from":{"id":42,"is_bot":false,"first_name":"A"},`+
		`"chat_instance":"c","data":%q,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"}}}}`, id, id, data)
}

func names(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprint(e["name"]))
	}
	return out
}

func answers(b *fakebot.Server) []string {
	var out []string
	for _, c := range b.CallsOf("answerCallbackQuery") {
		out = append(out, fmt.Sprint(c.Params["text"]))
	}
	return out
}

// Routes by command, codec action, prefix and screen, with the Router's
// and the route's middleware in order, and the chain of events.
func TestRouterRoutesAndMiddleware(t *testing.T) {
	var trail []string
	mw := func(tag string) Middleware {
		return func(next Handler) Handler {
			return HandlerFunc(func(c *Context) error { trail = append(trail, tag); return next.Handle(c) })
		}
	}
	r := NewRouter()
	r.Use(mw("router"))
	r.Command("start", func(c *Context) error {
		name, args := c.Command()
		trail = append(trail, "start:"+name+":"+args)
		if _, err := c.SetState(fsm.AnyRev, fsm.State{Screen: "ASK"}); err != nil {
			return err
		}
		c.Render("ASK", "pick:1")
		c.Accept("ASK")
		_, err := c.Reply("Your name?", nil)
		return err
	}, With(mw("route")))
	r.OnScreen("ASK", func(c *Context) error {
		trail = append(trail, "screen:"+c.Screen()+":"+c.Text())
		c.Accept("DONE")
		return nil
	}, Name("ask_text"))
	r.Callback("pick", func(c *Context) error {
		d, err := callback.Parse(c.CallbackData())
		require.NoError(t, err)
		c.Accept("PICKED")
		return c.Answer("picked " + d.Arg(0))
	})
	r.CallbackPrefix("old:", func(c *Context) error {
		c.Accept("OLD")
		return c.Answer("old " + c.CallbackData())
	})
	rg := newRig(t, r)
	require.NoError(t, rg.dispatch(t, message(1, "/start now")))
	require.NoError(t, rg.dispatch(t, message(2, "Ann")))
	require.NoError(t, rg.dispatch(t, press(3, "v1:pick:7")))
	require.NoError(t, rg.dispatch(t, press(4, "old:x")))
	require.Equal(t, []string{"router", "route", "start:start:now", "router", "screen:ASK:Ann", "router", "router"}, trail)
	require.Equal(t, []string{"picked 7", "old old:x"}, answers(rg.bot))
	require.Equal(t, []string{"MESSAGE_RECEIVED", "MESSAGE_ROUTED", "UI_RENDER", "MESSAGE_ACCEPTED",
		"MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_ACCEPTED",
		"CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY",
		"CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY"},
		names(rg.logs.Events("MESSAGE_RECEIVED", "MESSAGE_ROUTED", "UI_RENDER", "MESSAGE_ACCEPTED", "CALLBACK_RECEIVED",
			"CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY")))
	routed := rg.logs.Events("MESSAGE_ROUTED", "CALLBACK_ROUTED")
	require.Equal(t, "start", routed[0]["handler"])
	require.Equal(t, "ask_text", routed[1]["handler"])
	require.Equal(t, "pick:7", routed[2]["button_id"])
	require.Equal(t, "old:", routed[3]["button_id"])
}

// The silence guard and panic recovery are on: a callback the handler
// forgot to answer, one that panics and one no route takes are each
// answered exactly once; the panic is retried.
func TestRouterGuardsCallbacks(t *testing.T) {
	r := NewRouter()
	r.Callback("forget", func(c *Context) error { c.Accept("X"); return nil })
	r.Callback("boom", func(c *Context) error { panic("boom") })
	r.Callback("admin", func(c *Context) error { return c.Answer("secret") }, AdminOnly())
	rg := newRig(t, r)
	require.NoError(t, rg.dispatch(t, press(1, "v1:forget")))
	require.Error(t, rg.dispatch(t, press(2, "v1:boom")))
	require.NoError(t, rg.dispatch(t, press(3, "v1:nothing")))
	require.NoError(t, rg.dispatch(t, press(4, "not-ours")))
	require.NoError(t, rg.dispatch(t, press(5, "v1:admin")))
	require.Len(t, answers(rg.bot), 5, "each press answered once: %q", answers(rg.bot))
	var reasons []string
	for _, e := range rg.logs.Events("CALLBACK_REJECTED") {
		reasons = append(reasons, fmt.Sprint(e["reason_code"]))
	}
	require.Equal(t, []string{"HANDLER_PANIC", "UNKNOWN_ACTION", "CALLBACK_PARSE_ERROR", "FORBIDDEN"}, reasons)
	require.NotEmpty(t, rg.logs.Events("SILENCE_WARNING"))
}

// A route's ErrNotActive is PASSIVE_REJECT, logged once, and not answered.
func TestRouterPassiveReject(t *testing.T) {
	r := NewRouter()
	r.Callback("go", func(c *Context) error { return c.Answer("done") })
	rg := newRig(t, r)
	rg.valid.Store(false)
	err := rg.dispatch(t, press(1, "v1:go"))
	require.True(t, errors.Is(err, ErrNotActive), "%v", err)
	require.Empty(t, answers(rg.bot))
	ev := rg.logs.Events("CALLBACK_REJECTED")
	require.Len(t, ev, 1)
	require.Equal(t, "PASSIVE_REJECT", ev[0]["reason_code"])
}

// Bad routes are refused at the first update, not silently dropped.
func TestRouterRefusesBadRoutes(t *testing.T) {
	r := NewRouter()
	r.Callback("Not Valid", func(c *Context) error { return nil })
	rg := newRig(t, r)
	require.ErrorIs(t, rg.dispatch(t, press(1, "v1:x")), callback.ErrBadData)
}

// The public constants are the contract's (internal/telemetry, router).
func TestPublicConstantsMatchTheContract(t *testing.T) {
	for pub, in := range map[Reason]telemetry.Reason{ReasonStateMismatch: telemetry.ReasonStateMismatch,
		ReasonValidationFailed: telemetry.ReasonValidationFailed, ReasonDBError: telemetry.ReasonDBError,
		ReasonUnknownAction: telemetry.ReasonUnknownAction, ReasonForbidden: telemetry.ReasonForbidden,
		ReasonTelegramAPIError: telemetry.ReasonTelegramAPIError} {
		require.Equal(t, string(in), string(pub))
	}
	require.Equal(t, router.MaxDataLen, callback.MaxLen)
	for pub, in := range map[string]string{TextServerError: router.TextServerError, TextExpired: router.TextExpired,
		TextUnknownButton: router.TextUnknownButton, TextForbidden: router.TextForbidden, TextUnknownText: router.TextUnknownText} {
		require.Equal(t, in, pub)
	}
}
