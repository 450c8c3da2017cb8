package queue

import "github.com/mymmrac/telego"

// TypeUnknown is the type Describe gives an update that sets no field it
// knows (a newer Bot API kind).
const TypeUnknown = "unknown"

// Describe returns an update's type (the Bot API field name, e.g.
// "callback_query"; "unknown" when no known field is set), the chat it names
// and the user it names, 0 for either when the update has none (CONTRACT §4).
//
// The chat is the chat the update happens in: the message's chat for every
// kind of message, the chat of a callback's message (accessible or not),
// the chat of a reaction, member change, join request or boost, the voter
// chat of an anonymous poll answer, the private chat of a business
// connection. The user is the sender: from, user, or the business
// connection's user. A callback on an inline message, an inline query, a
// shipping or pre-checkout query names only a user; a poll names neither.
func Describe(u *telego.Update) (typ string, chatID, userID int64) {
	if u == nil {
		return TypeUnknown, 0, 0
	}
	user := func(p *telego.User) int64 {
		if p == nil {
			return 0
		}
		return p.ID
	}
	msg := func(t string, m *telego.Message) (string, int64, int64) {
		return t, m.Chat.ID, user(m.From)
	}
	switch {
	case u.Message != nil:
		return msg("message", u.Message)
	case u.EditedMessage != nil:
		return msg("edited_message", u.EditedMessage)
	case u.ChannelPost != nil:
		return msg("channel_post", u.ChannelPost)
	case u.EditedChannelPost != nil:
		return msg("edited_channel_post", u.EditedChannelPost)
	case u.BusinessConnection != nil:
		return "business_connection", u.BusinessConnection.UserChatID, u.BusinessConnection.User.ID
	case u.BusinessMessage != nil:
		return msg("business_message", u.BusinessMessage)
	case u.EditedBusinessMessage != nil:
		return msg("edited_business_message", u.EditedBusinessMessage)
	case u.DeletedBusinessMessages != nil:
		return "deleted_business_messages", u.DeletedBusinessMessages.Chat.ID, 0
	case u.GuestMessage != nil:
		return msg("guest_message", u.GuestMessage)
	case u.MessageReaction != nil:
		return "message_reaction", u.MessageReaction.Chat.ID, user(u.MessageReaction.User)
	case u.MessageReactionCount != nil:
		return "message_reaction_count", u.MessageReactionCount.Chat.ID, 0
	case u.InlineQuery != nil:
		return "inline_query", 0, u.InlineQuery.From.ID
	case u.ChosenInlineResult != nil:
		return "chosen_inline_result", 0, u.ChosenInlineResult.From.ID
	case u.CallbackQuery != nil:
		var chat int64
		if m := u.CallbackQuery.Message; m != nil {
			chat = m.GetChat().ID
		}
		return "callback_query", chat, u.CallbackQuery.From.ID
	case u.ShippingQuery != nil:
		return "shipping_query", 0, u.ShippingQuery.From.ID
	case u.PreCheckoutQuery != nil:
		return "pre_checkout_query", 0, u.PreCheckoutQuery.From.ID
	case u.PurchasedPaidMedia != nil:
		return "purchased_paid_media", 0, u.PurchasedPaidMedia.From.ID
	case u.Poll != nil:
		return "poll", 0, 0
	case u.PollAnswer != nil:
		var chat int64
		if u.PollAnswer.VoterChat != nil {
			chat = u.PollAnswer.VoterChat.ID
		}
		return "poll_answer", chat, user(u.PollAnswer.User)
	case u.MyChatMember != nil:
		return "my_chat_member", u.MyChatMember.Chat.ID, u.MyChatMember.From.ID
	case u.ChatMember != nil:
		return "chat_member", u.ChatMember.Chat.ID, u.ChatMember.From.ID
	case u.ChatJoinRequest != nil:
		return "chat_join_request", u.ChatJoinRequest.Chat.ID, u.ChatJoinRequest.From.ID
	case u.ChatBoost != nil:
		return "chat_boost", u.ChatBoost.Chat.ID, 0
	case u.RemovedChatBoost != nil:
		return "removed_chat_boost", u.RemovedChatBoost.Chat.ID, 0
	case u.ManagedBot != nil:
		return "managed_bot", 0, u.ManagedBot.User.ID
	case u.Subscription != nil:
		return "subscription", 0, u.Subscription.User.ID
	}
	return TypeUnknown, 0, 0
}
