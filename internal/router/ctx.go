package router

import (
	"context"
	"sync"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// outcome is the result event a dispatch logged.
type outcome int

const (
	outcomeNone outcome = iota
	outcomeAccepted
	outcomeRejected
	outcomePassive
)

// Ctx is one dispatch as a handler sees it: the update, its parsed parts,
// and the calls that log the result and tell the user. It is a
// context.Context carrying the update's identity, its fence and the answer
// tracker. Its methods are safe for concurrent use.
type Ctx struct {
	context.Context
	// Update is the update: its identity, raw JSON and what telego decoded.
	Update *update.Update
	ID     telemetry.Update

	// Message is set for message updates (message, business_message).
	Message *telego.Message
	// Command and Args are set for commands: "start" and the text after
	// the command, for "/start@bot hello".
	Command string
	Args    string
	// Screen is the user's screen a text was routed by ("" otherwise).
	Screen telemetry.ScreenID

	// Query and Data are set for callback queries.
	Query *telego.CallbackQuery
	Data  Data

	r *Router

	mu        sync.Mutex
	outcome   outcome
	reason    telemetry.Reason
	guardText string // what the guard answers when it has to
	guarded   bool   // the guard ran already (at the deadline)
}

// Log returns the router's logger, for the handler's own events.
func (c *Ctx) Log() *telemetry.Logger { return c.r.log }

// Telegram returns the Bot API client.
func (c *Ctx) Telegram() *telegram.Client { return c.r.tg }

// IsCallback reports whether the update is a callback query.
func (c *Ctx) IsCallback() bool { return c.Query != nil }

// UserID returns the id of the user who sent the update (0 if none).
func (c *Ctx) UserID() int64 {
	switch {
	case c.Query != nil:
		return c.Query.From.ID
	case c.Message != nil && c.Message.From != nil:
		return c.Message.From.ID
	}
	return 0
}

// ChatID returns the chat of the update: the message's chat, or the chat
// of the callback's message (0 for a callback on an inline message).
func (c *Ctx) ChatID() int64 {
	switch {
	case c.Message != nil:
		return c.Message.Chat.ID
	case c.Query != nil && c.Query.Message != nil:
		return c.Query.Message.GetChat().ID
	}
	return 0
}

// SourceMessage returns the message a callback's button was on, when the
// bot can still edit it (Telegram sends an inaccessible message for old
// ones).
func (c *Ctx) SourceMessage() (chatID int64, messageID int, ok bool) {
	if c.Query == nil || c.Query.Message == nil || !c.Query.Message.IsAccessible() {
		return 0, 0, false
	}
	m := c.Query.Message.Message()
	return m.Chat.ID, m.MessageID, true
}

// Accept logs the update's ACCEPTED event (CALLBACK_ACCEPTED or
// MESSAGE_ACCEPTED) with the screen the user moves to. Only the first
// Accept or Reject of a dispatch is logged.
func (c *Ctx) Accept(next telemetry.ScreenID) {
	if !c.setOutcome(outcomeAccepted) {
		return
	}
	if c.IsCallback() {
		c.r.log.CallbackAccepted(c, next)
	} else {
		c.r.log.MessageAccepted(c, next)
	}
}

// Reject logs the update's REJECTED event with reason and text (and, for
// STATE_MISMATCH, the expected and actual states) and tells the user text:
// as the callback's answer, or as a reply to a message. Only the first
// Accept or Reject of a dispatch is logged.
func (c *Ctx) Reject(reason telemetry.Reason, text string, expected, actual telemetry.ScreenID) {
	c.refuse(reason, text, text, expected, actual, true, false)
}

// refuse logs a REJECTED event with logText and, when tell is set, tells
// the user userText. force logs even after another outcome: a panic or a
// timeout after an accept must still show in the chain.
func (c *Ctx) refuse(reason telemetry.Reason, logText, userText string, expected, actual telemetry.ScreenID, tell, force bool) {
	c.mu.Lock()
	first := c.outcome == outcomeNone
	if first {
		c.outcome, c.reason = outcomeRejected, reason
	}
	if (first || force) && userText != "" {
		c.guardText = userText
	}
	c.mu.Unlock()
	if !first && !force {
		return
	}
	c.logRejected(reason, logText, expected, actual)
	if tell {
		c.tell(userText)
	}
}

func (c *Ctx) logRejected(reason telemetry.Reason, text string, expected, actual telemetry.ScreenID) {
	if c.IsCallback() {
		c.r.log.CallbackRejected(c, reason, text, expected, actual)
	} else {
		c.r.log.MessageRejected(c, reason, text, expected, actual)
	}
}

// tell shows text to the user: the callback's answer, or a reply. Failures
// are logged by the telegram client (TELEGRAM_API_ERROR).
func (c *Ctx) tell(text string) {
	if c.IsCallback() {
		_ = c.Answer(text)
		return
	}
	_, _ = c.Reply(text, nil)
}

func (c *Ctx) setOutcome(o outcome) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcome != outcomeNone {
		return false
	}
	c.outcome = o
	return true
}

func (c *Ctx) result() (outcome, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcome, c.guardText
}

// Answer answers the callback query with text (empty: no toast). A second
// answer is refused with telegram.ErrAlreadyAnswered.
func (c *Ctx) Answer(text string) error {
	if c.Query == nil {
		return ErrNotCallback
	}
	err := c.r.tg.AnswerCallback(c, c.Query.ID, text)
	if err == nil {
		c.r.metrics.CallbackAnswers.WithLabelValues("handler").Inc()
	}
	return err
}

// Target is where the update came from, for replies and edits: the chat,
// the forum topic of a topic message (message_thread_id) and the business
// connection of a business chat. For a callback, that of the button's
// message.
func (c *Ctx) Target() telegram.Target {
	m := c.Message
	if m == nil && c.Query != nil && c.Query.Message != nil && c.Query.Message.IsAccessible() {
		m = c.Query.Message.Message()
	}
	if m == nil {
		return telegram.Target{ChatID: c.ChatID()}
	}
	t := telegram.Target{ChatID: m.Chat.ID, BusinessConnectionID: m.BusinessConnectionID}
	if m.IsTopicMessage {
		t.ThreadID = m.MessageThreadID
	}
	return t
}

// Reply sends a new message with an optional keyboard to the update's chat,
// in its topic and business connection (Target).
func (c *Ctx) Reply(text string, kb *telego.InlineKeyboardMarkup) (*telego.Message, error) {
	return c.replyIn(c, text, kb)
}

// replyIn is Reply under another context (the guard's, past the deadline).
func (c *Ctx) replyIn(ctx context.Context, text string, kb *telego.InlineKeyboardMarkup) (*telego.Message, error) {
	to := c.Target()
	if to.ChatID == 0 {
		return nil, ErrNoChat
	}
	return c.r.tg.SendTo(ctx, to, text, kb)
}

// Edit replaces the text and keyboard of message messageID of the update's
// chat (in its business connection).
func (c *Ctx) Edit(messageID int, text string, kb *telego.InlineKeyboardMarkup) error {
	return c.r.tg.EditIn(c, c.Target(), messageID, text, kb)
}

// passive logs the update's PASSIVE_REJECT (once) for a fenced refusal.
func (c *Ctx) passive(text string) {
	c.mu.Lock()
	first := c.outcome != outcomePassive
	c.outcome = outcomePassive
	c.mu.Unlock()
	if first {
		c.r.log.UpdateRejected(c, telemetry.ReasonPassiveReject, text)
	}
}

// isPassive reports whether the dispatch ended in PASSIVE_REJECT.
func (c *Ctx) isPassive() bool {
	o, _ := c.result()
	return o == outcomePassive
}

// Fail logs the update's REJECTED event with reason and the cause's text,
// and tells the user userText (e.g. DB_ERROR, "Server error, try again").
// Only the first Accept, Reject or Fail of a dispatch is logged.
func (c *Ctx) Fail(reason telemetry.Reason, cause error, userText string) {
	text := userText
	if cause != nil {
		text = cause.Error()
	}
	c.refuse(reason, text, userText, "", "", true, false)
}

// Outcome reports whether the dispatch has logged its ACCEPTED or REJECTED
// event yet.
func (c *Ctx) Outcome() bool {
	o, _ := c.result()
	return o != outcomeNone
}
