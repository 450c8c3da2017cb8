package menubot_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func TestStaleButtonIsStateMismatch(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	menu := h.panel(userID)
	_, q1 := h.press(userID, "cat:image")

	// the old menu's video button, clicked after the user left MAIN_MENU
	cid, q2, err := h.click(userID, menu.buttons["cat:video"], menu.msgID)
	require.NoError(t, err, "a refusal the user was told about is not a dispatch failure")
	h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_REJECTED", "ANSWER_CALLBACK_QUERY")
	rej := h.find(cid, "CALLBACK_REJECTED")[0]
	require.Equal(t, "STATE_MISMATCH", rej.str("reason_code"))
	require.Equal(t, string(ui.MainMenu), rej.str("expected_state"))
	require.Equal(t, string(ui.ModelPick), rej.str("actual_state"))
	require.Equal(t, "Button expired, use /start", h.answerText(q2))
	require.Empty(t, h.find(cid, "UI_RENDER"), "a refused click shows nothing new")

	// a button without a state tag (old format, or forged) is refused too
	cid, q3, err := h.click(userID, "v1:model:flux", menu.msgID)
	require.NoError(t, err)
	require.Equal(t, "STATE_MISMATCH", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"))

	// a user with no state at all (expired): actual_state NONE (the tag
	// without its owner code, as rendered before tags named their user:
	// with it, another user's press is FORBIDDEN, see menuowner_test.go)
	cid, q4, err := h.click(userID+1, unbound(menu.buttons["cat:text"]), menu.msgID)
	require.NoError(t, err)
	require.Equal(t, "NONE", h.find(cid, "CALLBACK_REJECTED")[0].str("actual_state"))

	h.requireAnsweredOnce(q1, q2, q3, q4)
	require.Empty(t, h.find("", "SILENCE_WARNING"))
}

func TestGarbageCallbackDataIsParseError(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	msg := h.panel(userID).msgID
	var qids []string
	for _, data := range []string{"garbage!!", "v2:cat:image", "v1:", "v1:cat:im age", "v1:cat:a:b:c:d:e", "v1:cat@"} {
		cid, qid, err := h.click(userID, data, msg)
		require.NoError(t, err, data)
		qids = append(qids, qid)
		h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_REJECTED", "ANSWER_CALLBACK_QUERY")
		require.Equal(t, "CALLBACK_PARSE_ERROR", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"), data)
		require.Empty(t, h.find(cid, "CALLBACK_ROUTED"), "unparsable data reaches no handler")
		require.Equal(t, router.TextUnknownButton, h.answerText(qid))
	}
	h.requireAnsweredOnce(qids...)
}

func TestShortPromptIsValidationFailed(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.press(userID, "cat:image")
	h.press(userID, "model:flux")

	cid, err := h.send(userID, "fox")
	require.NoError(t, err)
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "PARAM_INPUT", "PARAM_VALIDATION_FAILED", "MESSAGE_REJECTED")
	pv := h.find(cid, "PARAM_VALIDATION_FAILED")[0]
	require.Equal(t, "prompt", pv.str("param_name"))
	require.Equal(t, "VALIDATION_FAILED", pv.str("reason_code"))
	require.Equal(t, "Too short: at least 5 characters, please", pv.str("hint_to_user"))
	require.Equal(t, "VALIDATION_FAILED", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))
	require.Equal(t, "Too short: at least 5 characters, please", h.lastText(userID))
	require.Empty(t, h.find(cid, "PARAM_ACCEPTED"))

	// still on the prompt step: a valid prompt now goes through
	cid, err = h.send(userID, "a fox in the snow")
	require.NoError(t, err)
	require.Len(t, h.find(cid, "PARAM_ACCEPTED"), 1)
}

func TestRedisFailingMidFlowIsDBError(t *testing.T) {
	srv := redistest.NewServer(t, false)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	h := newHarness(t, withClient(rc))
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	_, q1 := h.press(userID, "cat:image")

	srv.Kill()
	p := h.panel(userID)
	cid, q2, err := h.click(userID, p.buttons["model:flux"], p.msgID)
	require.NoError(t, err)
	h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_REJECTED", "ANSWER_CALLBACK_QUERY")
	rej := h.find(cid, "CALLBACK_REJECTED")[0]
	require.Equal(t, "DB_ERROR", rej.str("reason_code"))
	require.Equal(t, "DB", rej.str("domain"))
	require.Equal(t, "Server error, try again", h.answerText(q2))

	cid, err = h.send(userID, "a fox in the snow")
	require.NoError(t, err)
	require.Equal(t, "DB_ERROR", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))
	require.Equal(t, "Server error, try again", h.lastText(userID))

	cid, err = h.send(userID, "/start")
	require.NoError(t, err)
	require.Equal(t, "DB_ERROR", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))

	h.requireAnsweredOnce(q1, q2)
	require.Empty(t, h.find("", "SILENCE_WARNING"))
}

func TestDebugFromNonAdminIsForbidden(t *testing.T) {
	h := newHarness(t)
	cid, err := h.send(userID, "/debug")
	require.NoError(t, err)
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_REJECTED")
	rej := h.find(cid, "MESSAGE_REJECTED")[0]
	require.Equal(t, "FORBIDDEN", rej.str("reason_code"))
	require.Equal(t, "ADMIN", rej.str("domain"))
	require.Equal(t, router.TextForbidden, h.lastText(userID))
	require.Empty(t, h.find(cid, "DEBUG_PANEL_SHOWN"))

	cid, err = h.send(userID, "/debug 900900900")
	require.NoError(t, err)
	require.Equal(t, "FORBIDDEN", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))

	// a debug button forwarded to a non-admin
	cid, qid, err := h.click(userID, "v1:debug_on_30", 1)
	require.NoError(t, err)
	require.Equal(t, "FORBIDDEN", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"))
	h.requireAnsweredOnce(qid)
	require.Empty(t, h.debug.calls, "nothing switched")
}

func TestFencedWriteIsPassiveRejectAndNotAnswered(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.setLease(testToken + 1) // another instance took the shard over

	p := h.panel(userID)
	cid, qid, err := h.click(userID, p.buttons["cat:image"], p.msgID)
	require.ErrorIs(t, err, lease.ErrFenced)
	rej := h.find(cid, "CALLBACK_REJECTED")
	require.Len(t, rej, 1)
	require.Equal(t, "PASSIVE_REJECT", rej[0].str("reason_code"))
	require.Equal(t, "Instance not ACTIVE", rej[0].str("reason_text"))
	require.Zero(t, h.answers()[qid], "the ACTIVE instance answers it")
	require.Empty(t, h.find(cid, "SILENCE_WARNING"))

	cid, err = h.send(userID, "/start")
	require.ErrorIs(t, err, lease.ErrFenced)
	require.Equal(t, "PASSIVE_REJECT", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))
}

func TestEditFallsBackToNewMessage(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	p := h.panel(userID)

	// Telegram sends an inaccessible message for a button older than 48 h
	u, qid := h.callbackUpdate(userID, p.buttons["cat:image"], p.msgID, 0)
	cid, err := h.dispatch(u, "callback_query", userID, userID)
	require.NoError(t, err)
	h.requireChain(cid, callbackChain...)
	require.Empty(t, h.fake.CallsOf("editMessageText"))
	require.Len(t, h.fake.CallsOf("sendMessage"), 2)
	require.NotEqual(t, p.msgID, h.panel(userID).msgID)

	// an edit Telegram refuses (message gone): a new message instead
	p = h.panel(userID)
	cid, qid2, err := h.click(userID, p.buttons["model:flux"], 99999)
	require.NoError(t, err)
	h.requireChain(cid, "CALLBACK_ACCEPTED", "TELEGRAM_API_ERROR", "UI_RENDER", "ANSWER_CALLBACK_QUERY")
	require.Equal(t, float64(400), h.find(cid, "TELEGRAM_API_ERROR")[0]["status"])
	require.Len(t, h.fake.CallsOf("sendMessage"), 3)
	h.requireAnsweredOnce(qid, qid2)
}

func TestRedeliveredUpdateReplaysInsteadOfRefusing(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.press(userID, "cat:text")
	h.press(userID, "model:gpt")
	_, err = h.send(userID, "a poem about queues")
	require.NoError(t, err)
	p := h.panel(userID)
	u, _ := h.callbackUpdate(userID, p.buttons["confirm"], p.msgID, 1764300000)

	cid1, err := h.dispatch(u, "callback_query", userID, userID)
	require.NoError(t, err)
	cid2, err := h.dispatch(u, "callback_query", userID, userID) // the same update again
	require.NoError(t, err)
	require.Equal(t, string(ui.MainMenu), h.find(cid2, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Empty(t, h.find(cid2, "CALLBACK_REJECTED"))
	require.Empty(t, h.find(cid2, "JOB_QUEUED"), "no second job")
	jobID := h.find(cid1, "JOB_QUEUED")[0].str("job_id")
	require.Contains(t, h.lastText(userID), jobID)
	n, err := h.rc.XLen(context.Background(), h.shard.Jobs()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestCatalogMissIsDBError(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.press(userID, "cat:image")
	// the catalog changed under the user: the stored category is gone
	key := h.shard.FSM(userID, userID)
	require.NoError(t, h.rc.HSet(context.Background(), key, "state", `{"screen":"MODEL_PICK","values":{"category":"gone"}}`).Err())
	p := h.panel(userID)
	cid, qid, err := h.click(userID, p.buttons["model:flux"], p.msgID)
	require.NoError(t, err)
	rej := h.find(cid, "CALLBACK_REJECTED")[0]
	require.Equal(t, "DB_ERROR", rej.str("reason_code"))
	require.Contains(t, rej.str("reason_text"), "catalog")
	require.Equal(t, "Server error, try again", h.answerText(qid))
	h.requireAnsweredOnce(qid)
}
