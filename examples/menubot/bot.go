package menubot

import (
	"time"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

// Options configure a Bot.
type Options struct {
	// Catalog of categories and models; nil uses DefaultCatalog().
	Catalog *Catalog
	// Now is the clock of the jobs' created_at (default time.Now).
	Now func() time.Time
	// Store is the FSM store; nil uses the instance's (Context.FSM), which
	// also counts jobs refused at the stream's cap.
	Store *fsm.Store
}

// Bot is the reference bot: a dispatcher.Handler (its Router).
type Bot struct {
	r     *dispatcher.Router
	cat   *Catalog
	now   func() time.Time
	store *fsm.Store // nil: the instance's
}

// New returns a Bot with every route registered.
func New(o Options) (*Bot, error) {
	if o.Catalog == nil {
		o.Catalog = DefaultCatalog()
	} else if err := o.Catalog.Validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Bot{r: dispatcher.NewRouter(), cat: o.Catalog, now: o.Now, store: o.Store}
	b.routes()
	return b, nil
}

// FromConfig returns the Bot with the catalog of cfg's CATALOG_FILE (the
// embedded catalog when it is empty), as `dispatcher serve` runs it.
func FromConfig(cfg *dispatcher.Config) (*Bot, error) {
	var cat *Catalog
	if path, _ := cfg.Get("CATALOG_FILE"); path != "" {
		var err error
		if cat, err = LoadCatalog(path); err != nil {
			return nil, err
		}
	}
	return New(Options{Catalog: cat})
}

func (b *Bot) routes() {
	r := b.r
	r.Command("start", b.onStart, dispatcher.Name("start"))
	r.Command("debug", b.onDebug, dispatcher.Name("debug"), dispatcher.AdminOnly())
	r.Callback(ui.BtnCategory, b.onCategory, dispatcher.Name("category"))
	r.Callback(ui.BtnModel, b.onModel, dispatcher.Name("model"))
	r.Callback(ui.BtnParam, b.onParam, dispatcher.Name("param"))
	r.Callback(ui.BtnConfirm, b.onConfirm, dispatcher.Name("confirm"))
	r.Callback(ui.BtnBack, b.onBack, dispatcher.Name("back"))
	r.Callback(ui.BtnCancel, b.onCancel, dispatcher.Name("cancel"))
	r.Callback(ui.BtnDebugOn30, b.onDebugOn30, dispatcher.Name("debug_on_30"), dispatcher.AdminOnly())
	r.Callback(ui.BtnDebugShowLastCID, b.onDebugLastCID, dispatcher.Name("debug_show_last_cid"), dispatcher.AdminOnly())
	r.Callback(ui.BtnDebugClose, b.onDebugClose, dispatcher.Name("debug_close"), dispatcher.AdminOnly())
	r.OnScreen(ui.ParamInput, b.onPromptText, dispatcher.Name("prompt_text"))
	r.Fallback(b.onUnexpected, dispatcher.Name("fallback"))
}

// Handle dispatches one update (dispatcher.Handler).
func (b *Bot) Handle(c *dispatcher.Context) error { return b.r.Handle(c) }

// Router returns the bot's router (to add routes in tests, before the
// first update).
func (b *Bot) Router() *dispatcher.Router { return b.r }

// Catalog returns the catalog in use.
func (b *Bot) Catalog() *Catalog { return b.cat }
