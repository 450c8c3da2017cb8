package update

import "github.com/mymmrac/telego"

// TypeUnknown is the type of an update that sets no kind this package
// knows (a kind newer than the Bot API version it was written for).
const TypeUnknown = "unknown"

// path is where an id sits inside a kind's object: the names of the
// members to follow, the last one holding the integer.
type path []string

var (
	chatID   = path{"chat", "id"}
	fromID   = path{"from", "id"}
	userID   = path{"user", "id"}
	noID     = path(nil)
	cbChatID = path{"message", "chat", "id"}
)

// kind is one update kind: the member of the Update object that carries
// it (its name is the update's type), and where its chat and user are.
type kind struct {
	name       string
	chat, user path
	// message returns the kind's Message, for the kinds that carry one
	// (nil for the others).
	message func(*telego.Update) *telego.Message
}

// kinds is the taxonomy, in the order that decides the type of a body that
// sets several kinds (Telegram sets exactly one). The chat is the chat the
// update happens in: the message's chat for every kind of message, the
// chat of a callback's message (accessible or not), of a reaction, member
// change, join request or boost, the voter chat of an anonymous poll
// answer, the private chat of a business connection. The user is the
// sender: from, user, or the business connection's user. A callback on an
// inline message, an inline query, a shipping or pre-checkout query names
// only a user; a poll names neither.
var kinds = [...]kind{
	{name: "message", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.Message }},
	{name: "edited_message", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.EditedMessage }},
	{name: "channel_post", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.ChannelPost }},
	{name: "edited_channel_post", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.EditedChannelPost }},
	{name: "business_connection", chat: path{"user_chat_id"}, user: userID},
	{name: "business_message", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.BusinessMessage }},
	{name: "edited_business_message", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.EditedBusinessMessage }},
	{name: "deleted_business_messages", chat: chatID, user: noID},
	{name: "guest_message", chat: chatID, user: fromID,
		message: func(u *telego.Update) *telego.Message { return u.GuestMessage }},
	{name: "message_reaction", chat: chatID, user: userID},
	{name: "message_reaction_count", chat: chatID, user: noID},
	{name: "inline_query", chat: noID, user: fromID},
	{name: "chosen_inline_result", chat: noID, user: fromID},
	{name: "callback_query", chat: cbChatID, user: fromID},
	{name: "shipping_query", chat: noID, user: fromID},
	{name: "pre_checkout_query", chat: noID, user: fromID},
	{name: "purchased_paid_media", chat: noID, user: fromID},
	{name: "poll", chat: noID, user: noID},
	{name: "poll_answer", chat: path{"voter_chat", "id"}, user: userID},
	{name: "my_chat_member", chat: chatID, user: fromID},
	{name: "chat_member", chat: chatID, user: fromID},
	{name: "chat_join_request", chat: chatID, user: fromID},
	{name: "chat_boost", chat: chatID, user: noID},
	{name: "removed_chat_boost", chat: chatID, user: noID},
	{name: "managed_bot", chat: noID, user: userID},
	{name: "subscription", chat: noID, user: userID},
}

// unknownKind is how the chat and user of a kind this package does not
// know are looked for: the usual places, so that a newer kind about a chat
// still keeps that chat's order.
var unknownKind = kind{name: TypeUnknown, chat: chatID, user: fromID}

// kindOf returns the index in kinds of the member named key, or -1.
func kindOf(key []byte) int {
	for i := range kinds {
		if len(kinds[i].name) == len(key) && kinds[i].name == string(key) {
			return i
		}
	}
	return -1
}

// Types lists every type Scan can return, TypeUnknown last.
func Types() []string {
	out := make([]string, 0, len(kinds)+1)
	for _, k := range kinds {
		out = append(out, k.name)
	}
	return append(out, TypeUnknown)
}

// IsMessage reports whether updates of type typ carry a Message (message,
// edited_message, channel_post, business_message, ...).
func IsMessage(typ string) bool {
	for _, k := range kinds {
		if k.name == typ {
			return k.message != nil
		}
	}
	return false
}
