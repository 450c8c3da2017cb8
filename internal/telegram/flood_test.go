package telegram_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
)

// TestALongRetryAfterIsRememberedForTheChat: a 429 whose retry_after is
// beyond the client's wait budget fails the call at once, but the limiter
// records the pause: the next call to that chat is refused without
// reaching Telegram (its error says how long is left), another chat is not
// held back, and the error names the delay for the worker.
func TestALongRetryAfterIsRememberedForTheChat(t *testing.T) {
	e := newEnv(t, func(c *telegram.Config) { c.NoLimits = false })
	e.fake.SetFault(faultOn("sendMessage", 1, fakebot.Fault{Status: 429, RetryAfter: 30, Description: "Too Many Requests: retry after 30"}))
	_, first := e.c.Send(context.Background(), 42, "hi", nil)
	require.Equal(t, 429, telegram.Status(first))
	evs := e.logs.apiErrors(t)
	require.Len(t, evs, 1)
	require.Equal(t, float64(30), evs[0]["retry_after"], "TELEGRAM_API_ERROR carries retry_after")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := e.c.Send(ctx, 42, "again", nil)
	require.ErrorIs(t, err, telegram.ErrRateLimited, "the pause is remembered")
	require.Equal(t, 1, attempts(e.fake, "sendMessage"), "Telegram was not asked again during its flood wait")
	var th interface{ RetryDelay() time.Duration }
	require.True(t, errors.As(first, &th), "the error names the delay")
	require.Equal(t, 30*time.Second, th.RetryDelay())
	require.True(t, errors.As(err, &th))
	require.Greater(t, th.RetryDelay(), 25*time.Second, "the refusal says how long is left")

	_, err = e.c.Send(ctx, 43, "other chat", nil)
	require.NoError(t, err, "another chat is not held back")
}

// TestA429OfACallWithoutAChatPausesEveryCall: a 429 for a call that names
// no chat is Telegram throttling the bot as a whole: every message waits.
func TestA429OfACallWithoutAChatPausesEveryCall(t *testing.T) {
	e := newEnv(t, func(c *telegram.Config) { c.NoLimits = false })
	e.fake.SetFault(faultOn("answerCallbackQuery", 1, fakebot.Fault{Status: 429, RetryAfter: 20, Description: "Too Many Requests: retry after 20"}))
	require.Equal(t, 429, telegram.Status(e.c.AnswerCallback(context.Background(), "q1", "")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := e.c.Send(ctx, 43, "hi", nil)
	require.ErrorIs(t, err, telegram.ErrRateLimited)
	require.Zero(t, attempts(e.fake, "sendMessage"))
}

// attempts counts the calls of method the fake received, answered or not.
func attempts(f *fakebot.Server, method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}
