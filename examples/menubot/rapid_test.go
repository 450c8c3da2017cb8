package menubot_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
)

// Twenty rapid clicks on one chat, dispatched one at a time as the worker
// does for one chat: each uses the keyboard the previous one showed, and
// every one is a transition; none is skipped.
func TestTwentyRapidClicksAreTwentyTransitions(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	start := h.rev(userID)
	var qids []string
	for i := 0; i < 20; i++ {
		id, want := "cat:image", ui.ModelPick
		if i%2 == 1 {
			id, want = "back", ui.MainMenu
		}
		cid, qid := h.press(userID, id)
		qids = append(qids, qid)
		acc := h.find(cid, "CALLBACK_ACCEPTED")
		require.Len(t, acc, 1, "click %d", i)
		require.Equal(t, string(want), acc[0].str("next_screen"), "click %d", i)
	}
	require.Equal(t, start+20, h.rev(userID), "twenty transitions, none skipped or doubled")
	h.requireAnsweredOnce(qids...)
	h.requireOneCIDPerUpdate()
}

// Twenty rapid clicks on the same button, all sent before the first edit
// arrived: the first is a transition, the other nineteen are refused.
func TestTwentyClicksOnOneButtonAreOneTransitionAndNineteenRefusals(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	p := h.panel(userID)
	start := h.rev(userID)
	accepted, refused := 0, 0
	var qids []string
	for i := 0; i < 20; i++ {
		cid, qid, err := h.click(userID, p.buttons["cat:image"], p.msgID)
		require.NoError(t, err)
		qids = append(qids, qid)
		accepted += len(h.find(cid, "CALLBACK_ACCEPTED"))
		for _, r := range h.find(cid, "CALLBACK_REJECTED") {
			require.Equal(t, "STATE_MISMATCH", r.str("reason_code"))
			refused++
		}
	}
	require.Equal(t, 1, accepted)
	require.Equal(t, 19, refused)
	require.Equal(t, start+1, h.rev(userID))
	h.requireAnsweredOnce(qids...)
}

// The same twenty clicks dispatched concurrently (two instances during a
// failover, or a worker bug): the compare-and-set in Lua lets exactly one
// through (aiogram#1317 skipped states here).
func TestConcurrentClicksCannotSkipAState(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	p := h.panel(userID)
	start := h.rev(userID)

	var wg sync.WaitGroup
	cids := make([]string, 20)
	qids := make([]string, 20)
	for i := range cids {
		u, qid := h.callbackUpdate(userID, p.buttons["cat:image"], p.msgID, 1764300000)
		qids[i] = qid
		wg.Add(1)
		go func() {
			defer wg.Done()
			cid, err := h.dispatch(u, "callback_query", userID, userID)
			assert.NoError(t, err)
			cids[i] = cid
		}()
	}
	wg.Wait()
	accepted, refused := 0, 0
	for _, cid := range cids {
		accepted += len(h.find(cid, "CALLBACK_ACCEPTED"))
		refused += len(h.find(cid, "CALLBACK_REJECTED"))
	}
	require.Equal(t, 1, accepted)
	require.Equal(t, 19, refused)
	require.Equal(t, start+1, h.rev(userID))
	h.requireAnsweredOnce(qids...)

	// a concurrent double click on Back at the second parameter moves back
	// one step, never two
	h.press(userID, "model:flux")
	_, err = h.send(userID, "a fox in the snow")
	require.NoError(t, err)
	h.press(userID, "param:aspect:1x1")
	require.Equal(t, "style", h.stateValue(userID, "step"))
	p = h.panel(userID)
	before := h.rev(userID)
	for range 2 {
		u, _ := h.callbackUpdate(userID, p.buttons["back"], p.msgID, 1764300000)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.dispatch(u, "callback_query", userID, userID)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, before+1, h.rev(userID))
	require.Equal(t, "aspect", h.stateValue(userID, "step"))
}
