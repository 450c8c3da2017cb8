package menubot_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/internal/router"
)

// Test-only routes that misbehave, registered next to the bot's own.
func addMisbehavingRoutes(h *harness, release <-chan struct{}) {
	r := h.bot.Router()
	r.Callback("forgetful", func(c *dispatcher.Context) error {
		c.Accept(ui.MainMenu) // logs ACCEPTED, forgets to answer
		return nil
	})
	r.Callback("mute", func(c *dispatcher.Context) error { return nil })
	r.Callback("boom", func(c *dispatcher.Context) error { panic("handler bug") })
	r.Callback("sleepy", func(c *dispatcher.Context) error {
		// ignores its context for a while: the router answers at the
		// deadline, and Handle returns when the handler does
		select {
		case <-release:
		case <-time.After(400 * time.Millisecond):
		}
		return nil
	})
	r.Callback("chatty", func(c *dispatcher.Context) error {
		c.Accept(ui.MainMenu)
		assert.NoError(h.t, c.Answer("first"))
		assert.Error(h.t, c.Answer("second"), "a second answer is refused")
		return nil
	})
}

func TestSilenceGuardAnswersWhatHandlersForget(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	defer close(release)
	addMisbehavingRoutes(h, release)

	cid, q1, err := h.click(userID, "v1:forgetful", 1)
	require.NoError(t, err)
	h.requireChain(cid, "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "SILENCE_WARNING", "ANSWER_CALLBACK_QUERY")
	require.Contains(t, h.find(cid, "SILENCE_WARNING")[0].str("reason_text"), "no answerCallbackQuery")

	cid, q2, err := h.click(userID, "v1:mute", 1)
	require.NoError(t, err)
	h.requireChain(cid, "CALLBACK_ROUTED", "SILENCE_WARNING", "ANSWER_CALLBACK_QUERY")
	require.Contains(t, h.find(cid, "SILENCE_WARNING")[0].str("reason_text"), "no ACCEPTED/REJECTED")
	require.Equal(t, dispatcher.TextServerError, h.answerText(q2))

	// no route at all: UNKNOWN_ACTION, then the guard
	cid, q3, err := h.click(userID, "v1:nosuchaction", 1)
	require.NoError(t, err)
	h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_REJECTED", "SILENCE_WARNING", "ANSWER_CALLBACK_QUERY")
	require.Equal(t, "UNKNOWN_ACTION", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"))
	require.Equal(t, router.TextUnknownButton, h.answerText(q3))

	// a panic: HANDLER_PANIC, then the guard; the worker sees an error
	cid, q4, err := h.click(userID, "v1:boom", 1)
	require.ErrorIs(t, err, router.ErrHandlerPanic)
	h.requireChain(cid, "CALLBACK_ROUTED", "CALLBACK_REJECTED", "SILENCE_WARNING", "ANSWER_CALLBACK_QUERY")
	rej := h.find(cid, "CALLBACK_REJECTED")[0]
	require.Equal(t, "HANDLER_PANIC", rej.str("reason_code"))
	require.Contains(t, rej.str("reason_text"), "handler bug")
	require.Equal(t, dispatcher.TextServerError, h.answerText(q4))

	// a handler that outlives its deadline: HANDLER_TIMEOUT, then the guard
	u, q5 := h.callbackUpdate(userID, "v1:sleepy", 1, 1764300000)
	cid, err = h.dispatchWithin(u, "callback_query", userID, 150*time.Millisecond)
	require.ErrorIs(t, err, router.ErrHandlerTimeout)
	h.requireChain(cid, "CALLBACK_ROUTED", "CALLBACK_REJECTED", "SILENCE_WARNING", "ANSWER_CALLBACK_QUERY")
	require.Equal(t, "HANDLER_TIMEOUT", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"))

	// a handler that answers twice reaches Telegram once
	cid, q6, err := h.click(userID, "v1:chatty", 1)
	require.NoError(t, err)
	require.Empty(t, h.find(cid, "SILENCE_WARNING"))

	h.requireAnsweredOnce(q1, q2, q3, q4, q5, q6)
}

func TestSilenceGuardOffStillAnswersRouterRefusals(t *testing.T) {
	h := newHarness(t, func(_ *botConfig, h *harness) { h.noGuard = true })
	release := make(chan struct{})
	defer close(release)
	addMisbehavingRoutes(h, release)

	cid, q1, err := h.click(userID, "v1:forgetful", 1)
	require.NoError(t, err)
	require.Len(t, h.find(cid, "SILENCE_WARNING"), 1, "the warning is logged either way")
	require.Zero(t, h.answers()[q1], "with the guard off a forgotten answer stays forgotten")

	_, q2, err := h.click(userID, "v1:nosuchaction", 1)
	require.NoError(t, err)
	_, q3, err := h.click(userID, "v1:boom", 1)
	require.ErrorIs(t, err, router.ErrHandlerPanic)
	h.requireAnsweredOnce(q2, q3)
}
