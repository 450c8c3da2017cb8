package telegram

import (
	"context"

	"github.com/mymmrac/telego"
)

// Target is where a message is sent or edited: a chat and, within it, the
// forum topic and the business connection an update came from, so that a
// reply lands where the user wrote.
type Target struct {
	ChatID int64
	// ThreadID is the forum topic (message_thread_id) to send into; 0: the
	// chat itself (in a forum, its General topic). Edits ignore it: a
	// message stays in its topic.
	ThreadID int
	// BusinessConnectionID sends or edits on behalf of the business account
	// whose chat the update came from ("": the bot's own chat).
	BusinessConnectionID string
}

// SendTo sends a text message with an optional inline keyboard to to.
func (c *Client) SendTo(ctx context.Context, to Target, text string, kb *telego.InlineKeyboardMarkup) (*telego.Message, error) {
	p := &telego.SendMessageParams{ChatID: telego.ChatID{ID: to.ChatID}, Text: text,
		MessageThreadID: to.ThreadID, BusinessConnectionID: to.BusinessConnectionID}
	if kb != nil {
		p.ReplyMarkup = kb
	}
	return c.bot.SendMessage(ctx, p)
}

// EditIn replaces the text and inline keyboard (nil removes it) of message
// messageID of to. An edit that changes nothing counts as done.
func (c *Client) EditIn(ctx context.Context, to Target, messageID int, text string, kb *telego.InlineKeyboardMarkup) error {
	p := &telego.EditMessageTextParams{ChatID: telego.ChatID{ID: to.ChatID}, MessageID: messageID, Text: text,
		BusinessConnectionID: to.BusinessConnectionID}
	if kb != nil {
		p.ReplyMarkup = kb
	}
	_, err := c.bot.EditMessageText(ctx, p)
	if IsNotModified(err) {
		return nil
	}
	return err
}
