package menubot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/internal/router"
)

var (
	callbackChain = []string{"CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY"}
	messageChain  = []string{"MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_ACCEPTED", "UI_RENDER"}
)

func TestFlowFromStartToQueuedJob(t *testing.T) {
	h := newHarness(t)
	var qids []string

	cid, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.requireChain(cid, messageChain...)
	require.Equal(t, "/start", h.find(cid, "MESSAGE_RECEIVED")[0].str("command"))
	require.Equal(t, string(ui.MainMenu), h.find(cid, "MESSAGE_ACCEPTED")[0].str("next_screen"))
	render := h.find(cid, "UI_RENDER")[0]
	require.Equal(t, string(ui.MainMenu), render.str("screen_id"))
	require.Equal(t, []any{"cat:image", "cat:video", "cat:text"}, render["button_ids"])
	require.Equal(t, []string{"cat:image", "cat:video", "cat:text"}, h.panel(userID).order)

	cid, qid := h.press(userID, "cat:image")
	qids = append(qids, qid)
	h.requireChain(cid, callbackChain...)
	routed := h.find(cid, "CALLBACK_ROUTED")[0]
	require.Equal(t, "category", routed.str("handler"))
	require.Equal(t, "cat:image", routed.str("button_id"))
	require.Equal(t, string(ui.ModelPick), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, []string{"model:flux", "model:sdxl", "back"}, h.panel(userID).order)
	require.Len(t, h.fake.CallsOf("editMessageText"), 1, "a callback edits its message in place")

	cid, qid = h.press(userID, "model:flux")
	qids = append(qids, qid)
	h.requireChain(cid, callbackChain...)
	require.Equal(t, string(ui.ParamInput), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, []string{"back", "cancel"}, h.panel(userID).order)

	cid, err = h.send(userID, "a red fox in the snow")
	require.NoError(t, err)
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "PARAM_INPUT", "PARAM_ACCEPTED", "MESSAGE_ACCEPTED", "UI_RENDER")
	require.Equal(t, float64(len("a red fox in the snow")), h.find(cid, "MESSAGE_RECEIVED")[0]["text_length"])
	require.Equal(t, "prompt_text", h.find(cid, "MESSAGE_ROUTED")[0].str("handler"))
	require.Equal(t, "prompt", h.find(cid, "PARAM_INPUT")[0].str("param_name"))
	require.Equal(t, []string{"param:aspect:1x1", "param:aspect:16x9", "param:aspect:9x16", "back", "cancel"}, h.panel(userID).order)

	cid, qid = h.press(userID, "param:aspect:16x9")
	qids = append(qids, qid)
	h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_ROUTED", "PARAM_INPUT", "PARAM_ACCEPTED", "CALLBACK_ACCEPTED",
		"UI_RENDER", "ANSWER_CALLBACK_QUERY")
	acc := h.find(cid, "PARAM_ACCEPTED")[0]
	require.Equal(t, "aspect", acc.str("param_name"))
	require.Equal(t, "16x9", acc.str("value"))

	cid, qid = h.press(userID, "param:style:anime")
	qids = append(qids, qid)
	h.requireChain(cid, "PARAM_INPUT", "PARAM_ACCEPTED", "CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY")
	require.Equal(t, string(ui.Confirm), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, []string{"confirm", "back", "cancel"}, h.panel(userID).order)
	summary := h.lastText(userID)
	require.Contains(t, summary, "Prompt: a red fox in the snow")
	require.Contains(t, summary, "Aspect ratio: 16:9")
	require.Contains(t, summary, "Style: Anime")

	cid, qid = h.press(userID, "confirm")
	qids = append(qids, qid)
	h.requireChain(cid, "CALLBACK_RECEIVED", "CALLBACK_ROUTED", "JOB_QUEUED", "CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY")
	require.Equal(t, string(ui.MainMenu), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	jobID := h.find(cid, "JOB_QUEUED")[0].str("job_id")
	require.Len(t, jobID, 12)
	require.Contains(t, h.lastText(userID), jobID, "the user is told the job id")
	require.Contains(t, h.answerText(qid), jobID)

	jobs, err := h.rc.XRange(context.Background(), h.shard.Jobs(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	v := jobs[0].Values
	require.Equal(t, jobID, v["job_id"])
	require.Equal(t, cid, v["cid"])
	require.Equal(t, "image", v["category"])
	require.Equal(t, "flux", v["model"])
	require.Equal(t, "a red fox in the snow", v["prompt"])
	require.JSONEq(t, `{"aspect":"16x9","style":"anime"}`, v["params"].(string))

	h.requireAnsweredOnce(qids...)
	require.Len(t, h.answers(), len(qids))
	h.requireOneCIDPerUpdate()
	require.Empty(t, h.find("", "SILENCE_WARNING"))
	require.Empty(t, h.find("", "TELEGRAM_API_ERROR"))
	require.NotContains(t, h.logs.String(), "SANDBOX-not-a-real-token", "the token never reaches a log")
	h.requireRendersRegistered()
}

func TestFlowModelWithoutParamsGoesToConfirm(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.press(userID, "cat:text")
	h.press(userID, "model:gpt")
	cid, err := h.send(userID, "write a haiku about redis")
	require.NoError(t, err)
	require.Equal(t, string(ui.Confirm), h.find(cid, "MESSAGE_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, []string{"confirm", "back", "cancel"}, h.panel(userID).order)
	// Back from CONFIRM asks for the prompt again, Back again picks a model
	h.press(userID, "back")
	require.Equal(t, []string{"back", "cancel"}, h.panel(userID).order)
	h.press(userID, "back")
	require.Equal(t, []string{"model:gpt", "model:claude", "back"}, h.panel(userID).order)
	h.press(userID, "back")
	require.Equal(t, []string{"cat:image", "cat:video", "cat:text"}, h.panel(userID).order)
	h.requireRendersRegistered()
}

func TestBackWalksParametersInOrderAndCancelResets(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	h.press(userID, "cat:video")
	h.press(userID, "model:kling")
	_, err = h.send(userID, "a drone shot over a city")
	require.NoError(t, err)
	h.press(userID, "param:duration:5s")
	require.Contains(t, h.panel(userID).order, "param:aspect:16x9")
	h.press(userID, "param:aspect:9x16")
	require.Equal(t, []string{"confirm", "back", "cancel"}, h.panel(userID).order)
	h.press(userID, "back") // CONFIRM -> aspect
	require.Contains(t, h.panel(userID).order, "param:aspect:16x9")
	h.press(userID, "back") // aspect -> duration
	require.Contains(t, h.panel(userID).order, "param:duration:10s")
	cid, qid := h.press(userID, "cancel")
	require.Equal(t, string(ui.MainMenu), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, "Cancelled", h.answerText(qid))
	require.Equal(t, []string{"cat:image", "cat:video", "cat:text"}, h.panel(userID).order)
	n, err := h.rc.XLen(context.Background(), h.shard.Jobs()).Result()
	require.NoError(t, err)
	require.Zero(t, n, "cancel queues nothing")
}

func TestUnexpectedTextGetsHint(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	cid, err := h.send(userID, "hello there")
	require.NoError(t, err)
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_REJECTED")
	rej := h.find(cid, "MESSAGE_REJECTED")[0]
	require.Equal(t, "UNKNOWN_ACTION", rej.str("reason_code"))
	require.Equal(t, router.TextUnknownText, h.lastText(userID))

	cid, err = h.send(userID, "/nosuchcommand")
	require.NoError(t, err)
	require.Equal(t, "UNKNOWN_ACTION", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))

	// text where a parameter's buttons are expected
	h.press(userID, "cat:image")
	h.press(userID, "model:sdxl")
	_, err = h.send(userID, "a lighthouse at dusk")
	require.NoError(t, err)
	cid, err = h.send(userID, "square please")
	require.NoError(t, err)
	h.requireChain(cid, "PARAM_INPUT", "PARAM_VALIDATION_FAILED", "MESSAGE_REJECTED")
	require.Equal(t, "aspect", h.find(cid, "PARAM_VALIDATION_FAILED")[0].str("param_name"))
	require.True(t, strings.Contains(h.lastText(userID), "buttons"))
}
