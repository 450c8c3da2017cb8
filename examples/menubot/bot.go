package bot

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// Config configures a Bot.
type Config struct {
	// Client is the Redis client for FSM states and jobs (never closed here).
	Client redis.Cmdable
	// Telegram is the Bot API client.
	Telegram *telegram.Client
	// Log receives every event.
	Log *telemetry.Logger
	// Metrics; nil uses a private registry.
	Metrics *metrics.Metrics
	// Catalog of categories and models; nil uses DefaultCatalog().
	Catalog *Catalog
	// Admins reports whether a user may use /debug (ADMIN_IDS); nil: nobody.
	Admins func(userID int64) bool
	// SilenceGuard (SILENCE_GUARD) answers callbacks a handler forgot.
	SilenceGuard bool
	// Journal serves "Last CID" and /debug USER_ID; nil: not available.
	Journal telemetry.JournalReader
	// Debug serves "Debug 30 min"; nil: not available.
	Debug telemetry.DebugSetter
	// FSMTTL is how long a user's state lives (default 24 h).
	FSMTTL time.Duration
	// Username is the bot's username (from getMe): in groups the bot takes
	// only commands addressed to it (/start@username) and replies to its
	// messages, and ignores other bots' commands everywhere; empty: it
	// cannot tell, and takes every command.
	Username string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// WrapRoutes, when set, wraps every route's handler (router.Options.Wrap).
	WrapRoutes func(router.HandlerFunc) router.HandlerFunc
}

// ErrConfig is returned by New for a Config without a required field.
var ErrConfig = errors.New("bot: Client, Telegram and Log are required")

// Bot is the reference bot. Handle is its entry point (worker.Handler).
type Bot struct {
	r       *router.Router
	store   *fsm.Store
	cat     *Catalog
	log     *telemetry.Logger
	tg      *telegram.Client
	journal telemetry.JournalReader
	debug   telemetry.DebugSetter
	now     func() time.Time
	metrics *metrics.Metrics // nil: not counted
}

// New returns a Bot with every route registered.
func New(cfg Config) (*Bot, error) {
	if cfg.Client == nil || cfg.Telegram == nil || cfg.Log == nil {
		return nil, ErrConfig
	}
	if cfg.Catalog == nil {
		cfg.Catalog = DefaultCatalog()
	} else if err := cfg.Catalog.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := &Bot{
		store: fsm.New(cfg.Client, cfg.FSMTTL, fsm.WithClock(cfg.Now)),
		cat:   cfg.Catalog, log: cfg.Log, tg: cfg.Telegram, journal: cfg.Journal, debug: cfg.Debug, now: cfg.Now,
		metrics: cfg.Metrics,
	}
	r, err := router.New(router.Options{
		Log: cfg.Log, Telegram: cfg.Telegram, Metrics: cfg.Metrics, Admins: cfg.Admins,
		SilenceGuard: cfg.SilenceGuard, Screens: b.store, Username: cfg.Username, Wrap: cfg.WrapRoutes,
	})
	if err != nil {
		return nil, err
	}
	b.r = r
	b.routes()
	return b, nil
}

func (b *Bot) routes() {
	b.r.Command("start", "start", b.onStart)
	b.r.Command("debug", "debug", b.onDebug, router.AdminOnly())
	b.r.Callback(ui.BtnCategory, "category", b.onCategory)
	b.r.Callback(ui.BtnModel, "model", b.onModel)
	b.r.Callback(ui.BtnParam, "param", b.onParam)
	b.r.Callback(ui.BtnConfirm, "confirm", b.onConfirm)
	b.r.Callback(ui.BtnBack, "back", b.onBack)
	b.r.Callback(ui.BtnCancel, "cancel", b.onCancel)
	b.r.Callback(ui.BtnDebugOn30, "debug_on_30", b.onDebugOn30, router.AdminOnly())
	b.r.Callback(ui.BtnDebugShowLastCID, "debug_show_last_cid", b.onDebugLastCID, router.AdminOnly())
	b.r.Callback(ui.BtnDebugClose, "debug_close", b.onDebugClose, router.AdminOnly())
	b.r.Text(ui.ParamInput, "prompt_text", b.onPromptText)
	b.r.Fallback("fallback", b.onUnexpected)
}

// Handle dispatches one update (see router.Router.Handle).
func (b *Bot) Handle(ctx context.Context, u *update.Update) error { return b.r.Handle(ctx, u) }

// Router returns the bot's router (to add routes in tests, before the
// first Handle).
func (b *Bot) Router() *router.Router { return b.r }

// Store returns the FSM store.
func (b *Bot) Store() *fsm.Store { return b.store }

// Catalog returns the catalog in use.
func (b *Bot) Catalog() *Catalog { return b.cat }
