package dispatcher

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mymmrac/telego"
	"go.uber.org/zap"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// Context is one dispatch of one update as a handler sees it. It is a
// context.Context: it carries the update's identity (cid, update, chat,
// user), its fence (shard and fencing token) and its deadline
// (HANDLER_TIMEOUT), and it is cancelled when this instance loses the
// shard or stops. Pass it (not context.Background) to every call a
// handler makes, so that those calls are fenced and logged under the
// update's cid.
//
// Its methods are safe for concurrent use by the handler's goroutines;
// the Context must not be used after the handler returned.
type Context struct {
	context.Context
	env *env
	u   *update.Update
	id  telemetry.Update
	rc  *router.Ctx // set when a Router matched the update

	fenced    atomic.Bool // a call under the gate was refused
	viaRouter atomic.Bool // a Router took the update (it logs PASSIVE_REJECT)
	mu        sync.Mutex
	outcome   bool // Accept or Reject logged (without a Router)
	passive   bool // PASSIVE_REJECT logged
}

// env is one instance's parts, shared by every dispatch.
type env struct {
	*server.BotEnv
	fsm *fsm.Store
}

func newContext(ctx context.Context, e *env, u *update.Update) *Context {
	c := &Context{env: e, u: u}
	id, ok := telemetry.UpdateFrom(ctx)
	if !ok { // outside the worker (tests): an identity made here
		id = telemetry.Update{CID: telemetry.NewCID(), UpdateID: u.UpdateID, Type: u.Type, UserID: u.UserID, ChatID: u.ChatID}
		ctx = telemetry.WithUpdate(ctx, id)
	}
	c.id = id
	if u.Type == "callback_query" {
		ctx = telegram.TrackAnswers(ctx)
	}
	valid := e.Valid
	ctx = lease.WithGate(ctx, func(shard int, token int64) bool {
		if valid(shard, token) {
			return true
		}
		c.fenced.Store(true)
		return false
	})
	c.Context = ctx
	return c
}

// CID is the update's correlation id: 8 hex characters, made when the
// update was received and logged in every event of its chain.
func (c *Context) CID() string { return c.id.CID }

// UpdateID is Telegram's update_id.
func (c *Context) UpdateID() int64 { return c.u.UpdateID }

// UpdateType is the Bot API name of the update's kind: "message",
// "callback_query", "business_message", ... ("unknown" for a kind the
// dispatcher does not know).
func (c *Context) UpdateType() string { return c.u.Type }

// ChatID is the chat the update belongs to (0 when it names none); the
// dispatcher keeps one chat's updates in order by it.
func (c *Context) ChatID() int64 { return c.u.ChatID }

// UserID is the user who sent the update (0 when it names none).
func (c *Context) UserID() int64 { return c.u.UserID }

// Shard is the shard the update is dispatched from.
func (c *Context) Shard() int {
	if f, ok := lease.FenceFrom(c); ok {
		return f.Shard.N()
	}
	return c.id.Shard
}

// Update is the update as telego decodes it (never nil). Parts telego
// cannot decode are missing (they are logged DECODE_INCOMPLETE); Raw has
// the update's JSON as Telegram sent it.
func (c *Context) Update() *telego.Update { return c.u.Telego }

// Raw is the update's JSON, byte for byte as Telegram sent it.
func (c *Context) Raw() []byte { return c.u.Raw }

// Message is the message of a message or business_message update, else nil.
func (c *Context) Message() *telego.Message { return c.u.Message() }

// CallbackQuery is the query of a callback_query update, else nil.
func (c *Context) CallbackQuery() *telego.CallbackQuery { return c.u.Telego.CallbackQuery }

// Text is the message's text ("" when there is none).
func (c *Context) Text() string {
	if m := c.Message(); m != nil {
		return m.Text
	}
	return ""
}

// Command returns the command a Router matched ("start" for
// "/start@bot hello") and its arguments ("hello"); "" otherwise.
func (c *Context) Command() (name, args string) {
	if c.rc == nil {
		return "", ""
	}
	return c.rc.Command, c.rc.Args
}

// CallbackData is the callback query's data ("" for other updates).
func (c *Context) CallbackData() string {
	if q := c.CallbackQuery(); q != nil {
		return q.Data
	}
	return ""
}

// Screen is the user's screen (fsm.State.Screen) a Router routed a text
// by; "" otherwise.
func (c *Context) Screen() string {
	if c.rc == nil {
		return ""
	}
	return string(c.rc.Screen)
}

// IsAdmin reports whether the user is one of ADMIN_IDS (and admin routes
// are served: see docs/configuration.md, ALLOW_INSECURE_ADMIN).
func (c *Context) IsAdmin() bool { return c.env.Admins != nil && c.env.Admins(c.UserID()) }

// Bot is the Bot API client (telego). Its calls made with this Context
// (c.Bot().SendPhoto(c, ...)) are fenced: once this instance no longer
// holds the update's shard they are refused without a request, with an
// error matching ErrNotActive, and the dispatch logs PASSIVE_REJECT. They
// are rate-limited per chat, retried on 429 and 5xx within the deadline,
// and failures are logged TELEGRAM_API_ERROR.
func (c *Context) Bot() *telego.Bot { return c.env.Telegram.Bot() }

// Reply sends text (with an optional inline keyboard) where the update came
// from: its chat, forum topic and business connection. Fenced like Bot.
func (c *Context) Reply(text string, kb *telego.InlineKeyboardMarkup) (*telego.Message, error) {
	if c.rc != nil {
		return c.rc.Reply(text, kb)
	}
	return c.env.Telegram.SendTo(c, c.target(), text, kb)
}

// Edit replaces the text and keyboard of message messageID in the update's
// chat. An edit that changes nothing counts as done. Fenced like Bot.
func (c *Context) Edit(messageID int, text string, kb *telego.InlineKeyboardMarkup) error {
	if c.rc != nil {
		return c.rc.Edit(messageID, text, kb)
	}
	return c.env.Telegram.EditIn(c, c.target(), messageID, text, kb)
}

func (c *Context) target() telegram.Target {
	m := c.Message()
	if m == nil {
		if q := c.CallbackQuery(); q != nil && q.Message != nil && q.Message.IsAccessible() {
			m = q.Message.Message()
		}
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

// Answer answers the callback query with text (empty: no toast) and logs
// ANSWER_CALLBACK_QUERY. A query is answered once: a second Answer returns
// an error (ErrAlreadyAnswered). Fenced like Bot.
func (c *Context) Answer(text string) error {
	if c.rc != nil {
		return c.rc.Answer(text)
	}
	q := c.CallbackQuery()
	if q == nil {
		return ErrNotCallback
	}
	return c.env.Telegram.AnswerCallback(c, q.ID, text)
}

// Accept logs the update's ACCEPTED event (CALLBACK_ACCEPTED or
// MESSAGE_ACCEPTED, CONTRACT §5) with next, the screen or step the user
// moves to. Only the first Accept or Reject of a dispatch is logged.
func (c *Context) Accept(next string) {
	if c.rc != nil {
		c.rc.Accept(telemetry.ScreenID(next))
		return
	}
	if !c.first() {
		return
	}
	if c.u.Type == "callback_query" {
		c.env.Log.CallbackAccepted(c, telemetry.ScreenID(next))
	} else {
		c.env.Log.MessageAccepted(c, telemetry.ScreenID(next))
	}
}

// Reject logs the update's REJECTED event with reason (one of the Reason
// constants, e.g. ReasonValidationFailed) and text, and tells the user
// text: as the callback's answer or as a reply. Only the first Accept or
// Reject of a dispatch is logged.
//
// Options add to the event: States the expected and actual screens of a
// STATE_MISMATCH, Cause the error a DB_ERROR logs as its reason_text in
// place of text (the user is still told text).
func (c *Context) Reject(reason Reason, text string, opts ...RejectOption) {
	var ro rejectOptions
	for _, o := range opts {
		o(&ro)
	}
	if c.rc != nil {
		if ro.cause != nil {
			c.rc.Fail(telemetry.Reason(reason), ro.cause, text)
			return
		}
		c.rc.Reject(telemetry.Reason(reason), text, telemetry.ScreenID(ro.expected), telemetry.ScreenID(ro.actual))
		return
	}
	if !c.first() {
		return
	}
	logText := text
	if ro.cause != nil {
		logText = ro.cause.Error()
	}
	if ro.expected != "" || ro.actual != "" {
		if c.CallbackQuery() != nil {
			c.env.Log.CallbackRejected(c, telemetry.Reason(reason), logText, telemetry.ScreenID(ro.expected), telemetry.ScreenID(ro.actual))
		} else {
			c.env.Log.MessageRejected(c, telemetry.Reason(reason), logText, telemetry.ScreenID(ro.expected), telemetry.ScreenID(ro.actual))
		}
	} else {
		c.env.Log.UpdateRejected(c, telemetry.Reason(reason), logText)
	}
	if c.CallbackQuery() != nil {
		_ = c.Answer(text)
	} else if text != "" && c.ChatID() != 0 {
		_, _ = c.Reply(text, nil)
	}
}

func (c *Context) first() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcome {
		return false
	}
	c.outcome = true
	return true
}

// Render logs UI_RENDER: the screen the handler shows and the ids of its
// buttons (callback.Data.Button of each), so the chain says what the
// user saw.
func (c *Context) Render(screen string, buttons ...string) {
	ids := make([]telemetry.ButtonID, len(buttons))
	for i, b := range buttons {
		ids[i] = telemetry.ButtonID(b)
	}
	c.env.Log.UIRender(c, telemetry.ScreenID(screen), ids)
}

// Logger is a zap logger for the handler's own lines, under the update's
// cid. Lines go through the dispatcher's redaction (the bot token and
// secrets never appear) and are recorded as LIBRARY_LOG events.
func (c *Context) Logger() *zap.Logger {
	return c.env.Log.Zap().With(zap.String(telemetry.FCID, c.id.CID), zap.Int64(telemetry.FUpdateID, c.id.UpdateID))
}

// FSM is the state store (package fsm) of this instance; its writes are
// fenced under this Context.
func (c *Context) FSM() *fsm.Store { return c.env.fsm }

// State returns the state of the update's user in its chat.
func (c *Context) State() (fsm.State, error) { return c.env.fsm.Get(c, c.ChatID(), c.UserID()) }

// SetState writes the state of the update's user in its chat if it is
// still at revision expected (fsm.Store.Set).
func (c *Context) SetState(expected int64, next fsm.State) (fsm.State, error) {
	return c.env.fsm.Set(c, c.ChatID(), c.UserID(), expected, next)
}

// Key returns the name of a key for the bot's own state in the update's
// shard ("{ns:N}:app:" + name): only such keys can be written by a fenced
// Script under this Context. Name it by the chat or the user (e.g.
// "count:" + chat id); it must not contain "{" or "}".
func (c *Context) Key(name string) string {
	f, _ := lease.FenceFrom(c)
	return f.Shard.App(strings.NewReplacer("{", "", "}", "").Replace(name))
}

// logPassive logs the dispatch's PASSIVE_REJECT once.
func (c *Context) logPassive() {
	c.mu.Lock()
	first := !c.passive
	c.passive = true
	c.mu.Unlock()
	if first {
		c.env.Log.UpdateRejected(c, telemetry.ReasonPassiveReject, router.TextNotActive)
	}
}
