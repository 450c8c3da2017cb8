package queue

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"
)

// The fixtures are copies of shared/fixtures/updates (realistic bodies as
// the Bot API sends them).
func TestDescribeFixtures(t *testing.T) {
	const alice, group, channel = 100200300, -1001234567890, -1009876543210
	want := map[string]struct {
		typ        string
		chat, user int64
	}{
		"callback_query.json":                        {"callback_query", alice, alice},
		"callback_query_inaccessible_message.json":   {"callback_query", alice, alice},
		"callback_query_inline_message.json":         {"callback_query", 0, alice},
		"channel_post.json":                          {"channel_post", channel, 0},
		"edited_message.json":                        {"edited_message", alice, alice},
		"inline_query.json":                          {"inline_query", 0, alice},
		"message_command_start.json":                 {"message", alice, alice},
		"message_command_with_botname_in_group.json": {"message", group, alice},
		"message_reaction.json":                      {"message_reaction", alice, alice},
		"message_text_in_topic.json":                 {"message", group, alice},
		"message_text_unicode.json":                  {"message", alice, alice},
		"my_chat_member_blocked.json":                {"my_chat_member", alice, alice},
		"poll_no_chat_no_user.json":                  {"poll", 0, 0},
		"pre_checkout_query.json":                    {"pre_checkout_query", 0, alice},
	}
	files, err := filepath.Glob("testdata/updates/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(want), "every fixture has an expectation")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, ok := want[filepath.Base(f)]
			require.True(t, ok, "no expectation for %s", f)
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			var u telego.Update
			require.NoError(t, json.Unmarshal(body, &u))
			typ, chat, user := Describe(&u)
			require.Equal(t, w.typ, typ)
			require.Equal(t, w.chat, chat)
			require.Equal(t, w.user, user)
		})
	}
}

func TestDescribeEveryKind(t *testing.T) {
	chat := telego.Chat{ID: -5}
	from := telego.User{ID: 9}
	cases := []struct {
		u          telego.Update
		typ        string
		chat, user int64
	}{
		{telego.Update{EditedChannelPost: &telego.Message{Chat: chat}}, "edited_channel_post", -5, 0},
		{telego.Update{BusinessConnection: &telego.BusinessConnection{User: from, UserChatID: 9}}, "business_connection", 9, 9},
		{telego.Update{BusinessMessage: &telego.Message{Chat: chat, From: &from}}, "business_message", -5, 9},
		{telego.Update{EditedBusinessMessage: &telego.Message{Chat: chat, From: &from}}, "edited_business_message", -5, 9},
		{telego.Update{DeletedBusinessMessages: &telego.BusinessMessagesDeleted{Chat: chat}}, "deleted_business_messages", -5, 0},
		{telego.Update{GuestMessage: &telego.Message{Chat: chat, From: &from}}, "guest_message", -5, 9},
		{telego.Update{MessageReactionCount: &telego.MessageReactionCountUpdated{Chat: chat}}, "message_reaction_count", -5, 0},
		{telego.Update{ChosenInlineResult: &telego.ChosenInlineResult{From: from}}, "chosen_inline_result", 0, 9},
		{telego.Update{ShippingQuery: &telego.ShippingQuery{From: from}}, "shipping_query", 0, 9},
		{telego.Update{PurchasedPaidMedia: &telego.PaidMediaPurchased{From: from}}, "purchased_paid_media", 0, 9},
		{telego.Update{PollAnswer: &telego.PollAnswer{User: &from}}, "poll_answer", 0, 9},
		{telego.Update{PollAnswer: &telego.PollAnswer{VoterChat: &chat}}, "poll_answer", -5, 0},
		{telego.Update{ChatMember: &telego.ChatMemberUpdated{Chat: chat, From: from}}, "chat_member", -5, 9},
		{telego.Update{ChatJoinRequest: &telego.ChatJoinRequest{Chat: chat, From: from}}, "chat_join_request", -5, 9},
		{telego.Update{ChatBoost: &telego.ChatBoostUpdated{Chat: chat}}, "chat_boost", -5, 0},
		{telego.Update{RemovedChatBoost: &telego.ChatBoostRemoved{Chat: chat}}, "removed_chat_boost", -5, 0},
		{telego.Update{ManagedBot: &telego.ManagedBotUpdated{User: from}}, "managed_bot", 0, 9},
		{telego.Update{Subscription: &telego.BotSubscriptionUpdated{User: from}}, "subscription", 0, 9},
		{telego.Update{UpdateID: 3}, TypeUnknown, 0, 0},
	}
	for _, c := range cases {
		typ, chatID, userID := Describe(&c.u)
		require.Equal(t, c.typ, typ)
		require.Equal(t, c.chat, chatID, c.typ)
		require.Equal(t, c.user, userID, c.typ)
	}
	typ, _, _ := Describe(nil)
	require.Equal(t, TypeUnknown, typ)
}
