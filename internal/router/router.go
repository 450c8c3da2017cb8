package router

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// HandlerFunc handles one routed update. It logs its result through
// c.Accept or c.Reject and returns nil for every outcome the user was told
// about; an error means the dispatch failed (see Handle).
type HandlerFunc func(c *Ctx) error

// ScreenReader tells the router a user's current screen in a chat, to
// route plain text. An error ends in DB_ERROR.
type ScreenReader interface {
	Screen(ctx context.Context, chatID, userID int64) (telemetry.ScreenID, error)
}

// Options configure a Router.
type Options struct {
	Log      *telemetry.Logger // required
	Telegram *telegram.Client  // required
	// Metrics counts answers and silence warnings; nil uses a private
	// registry.
	Metrics *metrics.Metrics
	// Admins reports whether a user may use admin-only routes; nil: nobody.
	Admins func(userID int64) bool
	// SilenceGuard (SILENCE_GUARD) makes the guard answer callbacks that a
	// handler left unanswered. Callbacks the router itself refuses
	// (unknown action, panic, timeout) are answered either way; the
	// warning is logged either way.
	SilenceGuard bool
	// Screens routes plain text by the user's screen; nil sends every
	// text to the fallback.
	Screens ScreenReader
	// Username is the bot's username without "@" (from getMe); when set,
	// commands addressed to another bot ("/start@other_bot") are ignored,
	// and in groups only messages addressed to this bot are taken (see
	// Handle).
	Username string
	// GuardTimeout bounds the guard's answer, made after the dispatch's
	// own context may have expired (default 5 s).
	GuardTimeout time.Duration
	// Wrap, when set, wraps every route's handler (the multi-process tests
	// inject faults with it: DISPATCHER_FAULTS hang=).
	Wrap func(HandlerFunc) HandlerFunc
}

// Option changes one route.
type Option func(*route)

// AdminOnly makes a route refuse users that Options.Admins does not name,
// with FORBIDDEN.
func AdminOnly() Option { return func(r *route) { r.admin = true } }

type route struct {
	name  string
	h     HandlerFunc
	admin bool
}

// Router dispatches updates to handlers. It implements the worker's
// handler interface through Handle.
type Router struct {
	log          *telemetry.Logger
	tg           *telegram.Client
	metrics      *metrics.Metrics
	admins       func(int64) bool
	silenceGuard bool
	screens      ScreenReader
	username     string
	guardTimeout time.Duration
	wrap         func(HandlerFunc) HandlerFunc

	commands  map[string]*route
	callbacks map[telemetry.ButtonID]*route
	texts     map[telemetry.ScreenID]*route
	fallback  *route
	prefixes  []prefixRoute // longest first
}

// prefixRoute routes raw callback data by its prefix (CallbackPrefix).
type prefixRoute struct {
	prefix string
	*route
}

// ErrOptions is returned by New for missing options.
var ErrOptions = errors.New("router: Log and Telegram are required")

// New returns a Router without routes.
func New(o Options) (*Router, error) {
	if o.Log == nil || o.Telegram == nil {
		return nil, ErrOptions
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewTest()
	}
	if o.Admins == nil {
		o.Admins = func(int64) bool { return false }
	}
	if o.GuardTimeout <= 0 {
		o.GuardTimeout = 5 * time.Second
	}
	return &Router{
		log: o.Log, tg: o.Telegram, metrics: o.Metrics, admins: o.Admins, silenceGuard: o.SilenceGuard,
		screens: o.Screens, username: o.Username, guardTimeout: o.GuardTimeout, wrap: o.Wrap,
		commands: map[string]*route{}, callbacks: map[telemetry.ButtonID]*route{},
		texts: map[telemetry.ScreenID]*route{},
	}, nil
}

func newRoute(name string, h HandlerFunc, opts []Option) *route {
	r := &route{name: name, h: h}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Command routes "/name" (lowercase, without the slash) to h; handler is
// the name logged in MESSAGE_ROUTED.
func (r *Router) Command(name, handler string, h HandlerFunc, opts ...Option) {
	r.commands[name] = newRoute(handler, h, opts)
}

// Callback routes callback data whose action is action to h.
func (r *Router) Callback(action telemetry.ButtonID, handler string, h HandlerFunc, opts ...Option) {
	r.callbacks[action] = newRoute(handler, h, opts)
}

// CallbackPrefix routes callback data that starts with prefix to h, for
// data this router's codec did not write (the handler reads
// c.Query.Data). The longest matching prefix wins, and prefixes are
// matched before the codec parses the data; the button logged in
// CALLBACK_ROUTED is the prefix.
func (r *Router) CallbackPrefix(prefix, handler string, h HandlerFunc, opts ...Option) {
	r.prefixes = append(r.prefixes, prefixRoute{prefix: prefix, route: newRoute(handler, h, opts)})
	sort.SliceStable(r.prefixes, func(i, j int) bool { return len(r.prefixes[i].prefix) > len(r.prefixes[j].prefix) })
}

func (r *Router) prefixRoute(data string) (prefixRoute, bool) {
	for _, p := range r.prefixes {
		if strings.HasPrefix(data, p.prefix) {
			return p, true
		}
	}
	return prefixRoute{}, false
}

// Text routes plain text sent while the user is on screen to h.
func (r *Router) Text(screen telemetry.ScreenID, handler string, h HandlerFunc, opts ...Option) {
	r.texts[screen] = newRoute(handler, h, opts)
}

// Fallback routes text and commands no other route takes to h.
func (r *Router) Fallback(handler string, h HandlerFunc) { r.fallback = newRoute(handler, h, nil) }

// HasCallback reports whether callback data with action has a route.
func (r *Router) HasCallback(action telemetry.ButtonID) bool { return r.callbacks[action] != nil }

// Handle dispatches one update: callback queries and text messages
// (message, business_message) are routed; any other update, and any update
// telego could not decode the routed part of, returns nil with no Telegram
// call (the raw JSON is in u.Raw for handlers of other kinds). ctx should
// carry telemetry.WithUpdate and lease.WithFence (the worker's dispatch
// context); an update without an identity gets one made here from u.Info.
//
// In groups and supergroups a message is taken only when it is addressed
// to the bot: a command with its username (/start@bot), or a reply to one
// of its messages; plain chatter, bare commands and other bots' commands
// are ignored (no event, no call). In private chats and business chats
// bare commands and text are taken. Without a username (getMe failed) the
// bot cannot tell, and takes every command.
func (r *Router) Handle(ctx context.Context, u *update.Update) error {
	if u == nil || u.Telego == nil {
		return nil
	}
	if _, ok := telemetry.UpdateFrom(ctx); !ok {
		ctx = telemetry.WithUpdate(ctx, telemetry.Update{CID: telemetry.NewCID(), UpdateID: u.UpdateID,
			Type: u.Type, UserID: u.UserID, ChatID: u.ChatID})
	}
	switch u.Type {
	case "callback_query":
		if u.Telego.CallbackQuery != nil {
			return r.handleCallback(ctx, u)
		}
	case "message", "business_message":
		if m := u.Message(); m != nil && m.Text != "" {
			return r.handleMessage(ctx, u, m)
		}
	}
	return nil
}

func (r *Router) newCtx(ctx context.Context, u *update.Update) *Ctx {
	id, _ := telemetry.UpdateFrom(ctx)
	return &Ctx{Context: ctx, Update: u, ID: id, r: r}
}

func (r *Router) handleCallback(ctx context.Context, u *update.Update) error {
	ctx = telegram.TrackAnswers(ctx)
	c := r.newCtx(ctx, u)
	c.Query = u.Telego.CallbackQuery
	r.log.CallbackReceived(c, c.Query.Data)
	var err error
	if p, ok := r.prefixRoute(c.Query.Data); ok {
		r.log.CallbackRouted(c, p.name, telemetry.ButtonID(p.prefix))
		err = r.runTimed(c, p.route)
		r.guard(c)
		return err
	}
	d, perr := ParseData(c.Query.Data)
	switch {
	case perr != nil:
		c.refuse(telemetry.ReasonCallbackParseError, perr.Error(), TextUnknownButton, "", "", true, false)
	case r.callbacks[d.Action] == nil:
		c.Data = d
		// not answered here: the guard answers it, with SILENCE_WARNING
		c.refuse(telemetry.ReasonUnknownAction, "no route for "+string(d.Action), TextUnknownButton, "", "", false, false)
	default:
		c.Data = d
		rt := r.callbacks[d.Action]
		r.log.CallbackRouted(c, rt.name, d.Button())
		err = r.runTimed(c, rt)
	}
	r.guard(c)
	return err
}

func (r *Router) handleMessage(ctx context.Context, u *update.Update, m *telego.Message) error {
	c := r.newCtx(ctx, u)
	c.Message = m
	cmd, args, isCmd, to := parseCommand(m)
	if !r.addressed(m, isCmd, to) {
		return nil
	}
	var rt *route
	if isCmd {
		c.Command, c.Args = cmd, args
		r.log.MessageReceived(c, "/"+cmd, 0)
		rt = r.commands[cmd]
	} else {
		r.log.MessageReceived(c, "", runeCount(c.Message.Text))
		if r.screens != nil {
			screen, err := r.screens.Screen(c, c.ChatID(), c.UserID())
			if err != nil {
				c.refuse(telemetry.ReasonDBError, err.Error(), TextServerError, "", "", true, false)
				return nil
			}
			c.Screen = screen
			rt = r.texts[screen]
		}
	}
	if rt == nil {
		rt = r.fallback
	}
	if rt == nil {
		c.Reject(telemetry.ReasonUnknownAction, TextUnknownText, "", "")
		return nil
	}
	r.log.MessageRouted(c, rt.name)
	return r.runTimed(c, rt)
}

func runeCount(s string) int {
	n := 0
	for range s {
		n++
	}
	return n
}

// addressed reports whether a message is for this bot (see Handle).
func (r *Router) addressed(m *telego.Message, isCmd bool, to string) bool {
	group := m.Chat.Type == telego.ChatTypeGroup || m.Chat.Type == telego.ChatTypeSupergroup
	switch {
	case r.username == "":
		return isCmd || !group
	case isCmd && to != "":
		return strings.EqualFold(to, r.username)
	case !group:
		return true
	case isCmd:
		return false // a bare command in a group may be any bot's
	}
	re := m.ReplyToMessage
	return re != nil && re.From != nil && re.From.IsBot && strings.EqualFold(re.From.Username, r.username)
}
