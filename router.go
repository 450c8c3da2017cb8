package dispatcher

import (
	"errors"
	"fmt"
	"sync"

	"github.com/dispatcher-bot/dispatcher/callback"
	ifsm "github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Router is a Handler that matches updates to route handlers, the way the
// reference bot is routed, with the same events and guarantees:
//
//   - commands by name ("/start", and "/start@yourbot" in groups, where
//     only what is addressed to the bot is taken), callback queries by the
//     action of their data (package callback) or by a prefix of raw data,
//     plain text by the user's screen (fsm.State.Screen), and the rest of
//     text and commands by the fallback;
//   - every dispatch logs its chain: *_RECEIVED, *_ROUTED (with the route's
//     name), then the handler's Accept or Reject; a route without either is
//     a SILENCE_WARNING;
//   - the silence guard (SILENCE_GUARD, on by default): every callback query
//     is answered exactly once per dispatch, also when the handler forgot,
//     panicked, or passed its deadline, or when no route matched
//     (UNKNOWN_ACTION); data the codec refuses ends in CALLBACK_PARSE_ERROR;
//   - panic recovery: a handler's panic ends in HANDLER_PANIC, the user is
//     told TextServerError and the update is retried (MAX_DELIVERIES);
//   - a handler's ErrNotActive ends in PASSIVE_REJECT and is not answered:
//     the instance that holds the shard now answers it.
//
// Updates of other kinds (edited messages, reactions, ...) are not routed
// and Handle returns nil for them: wrap the Router in your own Handler to
// take them. Register every route before Run; a Router may serve several
// Dispatchers of one process.
type Router struct {
	mu     sync.Mutex
	specs  []routeSpec
	mw     []Middleware
	sealed bool
	built  map[*env]*router.Router
}

type routeKind int

const (
	kindCommand routeKind = iota
	kindCallback
	kindPrefix
	kindScreen
	kindFallback
)

type routeSpec struct {
	kind  routeKind
	key   string
	name  string
	h     Handler
	mw    []Middleware
	admin bool
}

// RouteOption changes one route.
type RouteOption func(*routeSpec)

// Name sets the route's name, logged as `handler` in *_ROUTED and used as
// the handler_duration metric's label (default: the command, action,
// prefix or screen; "fallback").
func Name(name string) RouteOption { return func(s *routeSpec) { s.name = name } }

// With wraps this route's handler in mw (inside the Router's own Use
// middleware).
func With(mw ...Middleware) RouteOption { return func(s *routeSpec) { s.mw = append(s.mw, mw...) } }

// AdminOnly refuses the route to users not in ADMIN_IDS with FORBIDDEN
// ("Not allowed").
func AdminOnly() RouteOption { return func(s *routeSpec) { s.admin = true } }

// NewRouter returns a Router without routes.
func NewRouter() *Router { return &Router{built: map[*env]*router.Router{}} }

func (r *Router) add(s routeSpec, opts []RouteOption) {
	if s.name == "" {
		s.name = s.key
	}
	for _, o := range opts {
		o(&s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		panic("dispatcher: a route was added to a Router after its first update")
	}
	r.specs = append(r.specs, s)
}

// Use adds middleware run around every route's handler, after matching
// (Context.Command, CallbackData, Screen are set). The first is outermost.
func (r *Router) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mw = append(r.mw, mw...)
}

// Command routes "/name" (lowercase, without the slash) to h.
func (r *Router) Command(name string, h HandlerFunc, opts ...RouteOption) {
	r.add(routeSpec{kind: kindCommand, key: name, h: h}, opts)
}

// Callback routes callback data (package callback) whose action is action
// to h.
func (r *Router) Callback(action string, h HandlerFunc, opts ...RouteOption) {
	r.add(routeSpec{kind: kindCallback, key: action, h: h}, opts)
}

// CallbackPrefix routes callback data that starts with prefix to h, before
// the codec parses it; the longest matching prefix wins.
func (r *Router) CallbackPrefix(prefix string, h HandlerFunc, opts ...RouteOption) {
	r.add(routeSpec{kind: kindPrefix, key: prefix, h: h}, opts)
}

// OnScreen routes plain text sent while the user's FSM screen is screen to
// h (a step that asks the user to type something).
func (r *Router) OnScreen(screen string, h HandlerFunc, opts ...RouteOption) {
	r.add(routeSpec{kind: kindScreen, key: screen, h: h}, opts)
}

// Fallback routes text and commands no other route takes to h. Without a
// fallback they are refused with UNKNOWN_ACTION and TextUnknownText.
func (r *Router) Fallback(h HandlerFunc, opts ...RouteOption) {
	r.add(routeSpec{kind: kindFallback, key: "fallback", h: h}, opts)
}

// HandleCallback routes the data of codec's action to h with the value it
// decodes; data it cannot decode is refused with CALLBACK_PARSE_ERROR and
// TextUnknownButton.
func HandleCallback[T any](r *Router, codec callback.Codec[T], h func(c *Context, v T) error, opts ...RouteOption) {
	r.Callback(codec.Action, func(c *Context) error {
		v, err := codec.Decode(c.CallbackData())
		if err != nil {
			c.rc.Reject(telemetry.ReasonCallbackParseError, TextUnknownButton, "", "")
			return nil
		}
		return h(c, v)
	}, opts...)
}

// Handle routes one update (Handler).
func (r *Router) Handle(c *Context) error {
	ir, err := r.build(c.env)
	if err != nil {
		return err
	}
	c.viaRouter.Store(true)
	return ir.Handle(c.Context, c.u)
}

// build returns the internal router for e, made on the first update.
func (r *Router) build(e *env) (*router.Router, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ir := r.built[e]; ir != nil {
		return ir, nil
	}
	r.sealed = true
	var screens router.ScreenReader
	for _, s := range r.specs {
		if s.kind == kindScreen {
			screens = ifsm.New(e.Redis, 0)
			break
		}
	}
	ir, err := router.New(router.Options{Log: e.Log, Telegram: e.Telegram, Metrics: e.Metrics, Admins: e.Admins,
		SilenceGuard: e.Config.SilenceGuard, Screens: screens, Username: e.Username, Wrap: e.WrapRoutes})
	if err != nil {
		return nil, err
	}
	for _, s := range r.specs {
		h := Chain(s.h, append(append([]Middleware{}, r.mw...), s.mw...)...)
		rh := func(rc *router.Ctx) error {
			return h.Handle(&Context{Context: rc, env: e, u: rc.Update, id: rc.ID, rc: rc})
		}
		var opts []router.Option
		if s.admin {
			opts = append(opts, router.AdminOnly())
		}
		switch s.kind {
		case kindCommand:
			ir.Command(s.key, s.name, rh, opts...)
		case kindCallback:
			if _, err := (callback.Data{Action: s.key}).Encode(); err != nil {
				return nil, fmt.Errorf("dispatcher: route for callback action %q: %w", s.key, err)
			}
			ir.Callback(telemetry.ButtonID(s.key), s.name, rh, opts...)
		case kindPrefix:
			if err := callback.Check(s.key); err != nil {
				return nil, fmt.Errorf("dispatcher: route for callback prefix %q: %w", s.key, err)
			}
			ir.CallbackPrefix(s.key, s.name, rh, opts...)
		case kindScreen:
			ir.Text(telemetry.ScreenID(s.key), s.name, rh, opts...)
		case kindFallback:
			if s.admin {
				return nil, errors.New("dispatcher: the fallback cannot be AdminOnly")
			}
			ir.Fallback(s.name, rh)
		}
	}
	r.built[e] = ir
	return ir, nil
}

// HasCallback reports whether a Callback route takes data of action: a
// bot's tests check every button its keyboards can show against it.
func (r *Router) HasCallback(action string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.specs {
		if s.kind == kindCallback && s.key == action {
			return true
		}
	}
	return false
}
