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
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

const group = -1001234567890 // a supergroup (a forum where a test says so)

// where is a chat the bot is used in, and where in it.
type where struct {
	chat     int64
	chatType string // private, group, supergroup
	thread   int    // forum topic (is_topic_message), 0 none
	business string // business connection, "" none
}

// message builds the update of a text message from user at w; extra adds
// members to the message (a reply_to_message...).
func (h *harness) message(w where, user int64, text, extra string) *update.Update {
	id := h.nextUpdate.Add(1)
	kind := "message"
	m := fmt.Sprintf(`"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"U"},"chat":{"id":%d,"type":%q},"date":1764300000,"text":%q`,
		id, user, w.chat, w.chatType, text)
	if strings.HasPrefix(text, "/") {
		n := len(strings.SplitN(text, " ", 2)[0])
		m += fmt.Sprintf(`,"entities":[{"offset":0,"length":%d,"type":"bot_command"}]`, n)
	}
	if w.thread != 0 {
		m += fmt.Sprintf(`,"message_thread_id":%d,"is_topic_message":true`, w.thread)
	}
	if w.business != "" {
		kind = "business_message"
		m += fmt.Sprintf(`,"business_connection_id":%q`, w.business)
	}
	if extra != "" {
		m += "," + extra
	}
	return h.parse(fmt.Sprintf(`{"update_id":%d,%q:{%s}}`, id, kind, m))
}

// handle dispatches u with the identity the worker would give it (ingest's
// Scan of the body) and returns its cid.
func (h *harness) handle(u *update.Update) string {
	h.t.Helper()
	cid := telemetry.NewCID()
	ctx := telemetry.WithUpdate(context.Background(), telemetry.Update{CID: cid, UpdateID: u.UpdateID, Type: u.Type,
		UserID: u.UserID, ChatID: u.ChatID})
	ctx = lease.WithFence(ctx, lease.Fence{Shard: h.shard, Token: testToken})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(h.t, h.run.Handle(ctx, u))
	return cid
}

// lastSent returns the last sendMessage or editMessageText the fake took.
func (h *harness) lastSent() fakebot.Call {
	h.t.Helper()
	calls := h.fake.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if c := calls[i]; c.Status == 200 && (c.Method == "sendMessage" || c.Method == "editMessageText") {
			return c
		}
	}
	h.t.Fatal("nothing sent")
	return fakebot.Call{}
}

// clickOn clicks the button id of the message call showed, with the
// message as Telegram hands it back in the callback (its topic and
// business connection included).
func (h *harness) clickOn(call fakebot.Call, user int64, id string) string {
	h.t.Helper()
	msg, err := json.Marshal(call.Result)
	require.NoError(h.t, err)
	p := h.panel(int64(chatOf(h.t, call)))
	data, ok := p.buttons[id]
	require.True(h.t, ok, "button %s not on the panel (have %v)", id, p.order)
	uid := h.nextUpdate.Add(1)
	return h.handle(h.parse(fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"q%d","from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat_instance":"1","data":%q,"message":%s}}`, uid, uid, user, data, msg)))
}

func chatOf(t *testing.T, c fakebot.Call) int {
	var n int
	_, err := fmt.Sscan(c.Chat(), &n)
	require.NoError(t, err)
	return n
}

// param renders a parameter of a recorded call as text ("" when absent).
func param(c fakebot.Call, name string) string {
	v, ok := c.Params[name]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// TestGroupsTakeOnlyWhatIsAddressedToTheBot: the bot learns its username
// from getMe; in a group it answers /start@its_username, and ignores a bare
// /start (any bot's), another bot's command and plain chatter, with no
// event and no call; in a private chat a bare /start is its own.
func TestGroupsTakeOnlyWhatIsAddressedToTheBot(t *testing.T) {
	h := newHarness(t)
	require.Len(t, h.fake.CallsOf("getMe"), 1)
	require.Equal(t, "dispatcher_bot", fakebot.Username)
	sg := where{chat: group, chatType: "supergroup"}
	g := where{chat: -4242, chatType: "group"}
	before := len(h.fake.Calls())
	for _, u := range []*update.Update{
		h.message(sg, userID, "/start", ""),
		h.message(g, userID, "/start hello", ""),
		h.message(sg, userID, "/start@other_bot", ""),
		h.message(g, userID, "/debug@other_bot", ""),
		h.message(sg, userID, "hello everyone", ""),
		h.message(g, userID, "a red fox in the snow", ""),
		h.message(sg, userID, "see @dispatcher_bot", ""),
	} {
		cid := h.handle(u)
		require.Empty(t, h.events(cid), "nothing logged for %q", u.Message().Text)
	}
	require.Len(t, h.fake.Calls(), before, "no Bot API call for what is not addressed to the bot")

	for _, w := range []where{sg, g} {
		cid := h.handle(h.message(w, userID, "/start@dispatcher_bot", ""))
		h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_ACCEPTED", "UI_RENDER")
		sent := h.lastSent()
		require.Equal(t, "sendMessage", sent.Method)
		require.Equal(t, fmt.Sprint(w.chat), sent.Chat())
		require.Equal(t, "Choose a category", sent.Params["text"])
	}
	cid := h.handle(h.message(where{chat: userID, chatType: "private"}, userID, "/start", ""))
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_ACCEPTED", "UI_RENDER")
	require.Equal(t, fmt.Sprint(userID), h.lastSent().Chat())
	cid = h.handle(h.message(where{chat: userID, chatType: "private"}, userID, "/start@other_bot", ""))
	require.Empty(t, h.events(cid), "another bot's command, even in private")
}

// TestGroupFlowTakesRepliesToTheBot: in a group, the menu works by its
// buttons, and the prompt the bot asks for is taken when it is a reply to
// the bot's message; the same text not replying to the bot is chatter.
func TestGroupFlowTakesRepliesToTheBot(t *testing.T) {
	h := newHarness(t)
	sg := where{chat: group, chatType: "supergroup"}
	h.handle(h.message(sg, userID, "/start@dispatcher_bot", ""))
	h.clickOn(h.lastSent(), userID, "cat:image")
	h.clickOn(h.lastSent(), userID, "model:flux")
	prompt := h.lastSent()
	require.Contains(t, prompt.Params["text"], "describe what you want")

	before := len(h.fake.Calls())
	cid := h.handle(h.message(sg, userID, "a red fox in the snow", ""))
	require.Empty(t, h.events(cid), "not a reply to the bot: chatter")
	require.Len(t, h.fake.Calls(), before)

	bot, err := json.Marshal(prompt.Result)
	require.NoError(t, err)
	cid = h.handle(h.message(sg, userID, "a red fox in the snow", `"reply_to_message":`+string(bot)))
	require.Contains(t, h.names(cid), "PARAM_INPUT")
	require.Contains(t, h.names(cid), "MESSAGE_ACCEPTED")
	sent := h.lastSent()
	require.Equal(t, "sendMessage", sent.Method)
	require.Equal(t, fmt.Sprint(group), sent.Chat())
}

// TestRepliesStayInTheForumTopic: a command in a forum topic is answered in
// that topic (message_thread_id), the menu's buttons edit the bot's message
// there, and when the bot has to send a new message after a click (the
// old one cannot be edited any more) it goes to the topic of the button's
// message.
func TestRepliesStayInTheForumTopic(t *testing.T) {
	h := newHarness(t)
	topic := where{chat: group, chatType: "supergroup", thread: 7}
	h.handle(h.message(topic, userID, "/start@dispatcher_bot", ""))
	menu := h.lastSent()
	require.Equal(t, "sendMessage", menu.Method)
	require.Equal(t, "7", param(menu, "message_thread_id"))

	h.clickOn(menu, userID, "cat:image")
	edit := h.lastSent()
	require.Equal(t, "editMessageText", edit.Method)
	require.Equal(t, fmt.Sprint(menu.Result.(map[string]any)["message_id"]), param(edit, "message_id"))

	// the user clicks Back on that message after it was deleted: the fake no
	// longer knows it, the edit fails, and the screen comes as a new message
	h.fake.Forget(int64(group))
	h.clickOn(edit, userID, "back")
	sent := h.lastSent()
	require.Equal(t, "sendMessage", sent.Method)
	require.Equal(t, "Choose a category", sent.Params["text"])
	require.Equal(t, "7", param(sent, "message_thread_id"), "in the topic of the button's message")

	// General topic and plain groups: no thread
	h.handle(h.message(where{chat: group, chatType: "supergroup"}, userID, "/start@dispatcher_bot", ""))
	require.Empty(t, param(h.lastSent(), "message_thread_id"))
}

// TestRepliesGoThroughTheBusinessConnection: a business message (a
// customer writing to a business account the bot manages) is answered
// through its business connection, and its buttons edit through it too.
func TestRepliesGoThroughTheBusinessConnection(t *testing.T) {
	h := newHarness(t)
	const customer = 555000111
	biz := where{chat: customer, chatType: "private", business: "bc-42"}
	cid := h.handle(h.message(biz, customer, "/start", ""))
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "MESSAGE_ACCEPTED", "UI_RENDER")
	menu := h.lastSent()
	require.Equal(t, "sendMessage", menu.Method)
	require.Equal(t, fmt.Sprint(customer), menu.Chat())
	require.Equal(t, "bc-42", param(menu, "business_connection_id"))

	cid = h.clickOn(menu, customer, "cat:image")
	require.Contains(t, h.names(cid), "CALLBACK_ACCEPTED")
	edit := h.lastSent()
	require.Equal(t, "editMessageText", edit.Method)
	require.Equal(t, "bc-42", param(edit, "business_connection_id"))

	// the bot's own chat with the same user is another chat: no connection
	h.handle(h.message(where{chat: customer, chatType: "private"}, customer, "/start", ""))
	require.Empty(t, param(h.lastSent(), "business_connection_id"))
}
