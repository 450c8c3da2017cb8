package menubot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
)

const otherUser = 100200301

// TestGroupMenuActsOnlyForItsUser: in a group, user A's menu is on a
// message everybody sees. When user B presses one of its buttons, the bot
// neither edits A's message nor moves anybody's state: B gets a short
// answer and CALLBACK_REJECTED reason_code=FORBIDDEN. That holds also when
// B's own state happens to be at the very screen and revision the button
// was rendered at (revisions are per user, from the clock: two users who
// start in the same millisecond share one), which is what the tag alone
// checked before.
func TestGroupMenuActsOnlyForItsUser(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, func(cfg *botConfig, _ *harness) { cfg.Now = func() time.Time { return at } })
	sg := where{chat: group, chatType: "supergroup"}
	h.handle(h.message(sg, userID, "/start@dispatcher_bot", ""))
	menuA, panelA := h.lastSent(), h.panel(group)
	revA := h.revOf(group, userID)
	h.handle(h.message(sg, otherUser, "/start@dispatcher_bot", ""))
	require.Equal(t, revA, h.revOf(group, otherUser), "same clock: both states at the same revision")

	before := len(h.fake.Calls())
	cid := h.clickData(menuA, otherUser, panelA.buttons["cat:image"]) // A's button, as Telegram sends it
	rej := h.find(cid, "CALLBACK_REJECTED")
	require.Len(t, rej, 1, "%v", h.names(cid))
	require.Equal(t, "FORBIDDEN", rej[0].str("reason_code"))
	for _, c := range h.fake.Calls()[before:] {
		require.NotEqual(t, "editMessageText", c.Method, "A's message is not edited")
		require.NotEqual(t, "sendMessage", c.Method)
	}
	answers := h.fake.CallsOf("answerCallbackQuery")
	require.NotEmpty(t, answers)
	require.Equal(t, "This menu is someone else's: send /start for your own", answers[len(answers)-1].Params["text"])
	require.Equal(t, revA, h.revOf(group, otherUser), "B's state did not move")
	require.Equal(t, revA, h.revOf(group, userID), "nor A's")

	// A's own press works.
	cid = h.clickData(menuA, userID, panelA.buttons["cat:image"])
	require.Contains(t, h.names(cid), "CALLBACK_ACCEPTED")
	require.Equal(t, "editMessageText", h.lastSent().Method)
	require.Equal(t, fmt.Sprint(group), h.lastSent().Chat())
}

// revOf returns the FSM revision of user in chat.
func (h *harness) revOf(chat, user int64) int64 {
	h.t.Helper()
	n, err := h.rc.HGet(context.Background(), h.shard.FSM(chat, user), "rev").Int64()
	require.NoError(h.t, err)
	return n
}

// clickData presses the button with data on the message call showed.
func (h *harness) clickData(call fakebot.Call, user int64, data string) string {
	h.t.Helper()
	require.NotEmpty(h.t, data)
	msg, err := json.Marshal(call.Result)
	require.NoError(h.t, err)
	uid := h.nextUpdate.Add(1)
	return h.handle(h.parse(fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"q%d","from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat_instance":"1","data":%q,"message":%s}}`, uid, uid, user, data, msg)))
}

// unbound returns callback data without its tag's owner code (a button
// rendered before tags named their user).
func unbound(data string) string {
	if i := strings.LastIndexByte(data, '.'); i > strings.IndexByte(data, '@') {
		return data[:i]
	}
	return data
}

// TestUnboundTagsStillWork: a button rendered before tags named their
// user (a menu on screen across the upgrade) is still taken by the user's
// state as before.
func TestUnboundTagsStillWork(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	menu := h.panel(userID)
	require.Contains(t, menu.buttons["cat:image"], ".", "a bound tag")
	cid, _, err := h.click(userID, unbound(menu.buttons["cat:image"]), menu.msgID)
	require.NoError(t, err)
	require.Contains(t, h.names(cid), "CALLBACK_ACCEPTED")
}
