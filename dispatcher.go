package dispatcher

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/seam"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Dispatcher is one instance of your bot: the webhook (or the long-polling
// loop), its share of the shards' leases, the workers that call your
// Handler, and the ops endpoints (/healthz, /readyz, /metrics, /ops). Run
// as many as you like on one Redis: each update is handled by one of
// them.
type Dispatcher struct {
	srv *server.Server
}

// Option changes how New builds a Dispatcher.
type Option func(*options)

type options struct {
	logs   io.Writer
	server server.Options // the module's own programs (internal/seam)
}

// WithLogOutput sends the instance's log lines (the events of CONTRACT §5,
// JSON or key=value by LOG_FORMAT) to w instead of os.Stdout.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logs = w } }

// New validates cfg and builds an instance that dispatches every update
// to h. It binds LISTEN_ADDR at once (a port in use is an error here) and
// connects nothing else until Run. A configuration error matches
// ErrInvalidConfig and names the variable.
func New(cfg *Config, h Handler, opts ...Option) (*Dispatcher, error) {
	if cfg == nil {
		return nil, &config.Error{Var: "config", Reason: "nil *Config: use DefaultConfig or ConfigFromEnv"}
	}
	if h == nil {
		return nil, errors.New("dispatcher: New needs a Handler")
	}
	o := options{logs: os.Stdout}
	for _, f := range opts {
		f(&o)
	}
	c := cfg.c // New's own copy: later Sets do not change a running instance
	if err := c.Validate(); err != nil {
		return nil, err
	}
	so := o.server
	if so.Bot == nil {
		so.Bot = func(be *server.BotEnv) (worker.Handler, error) { return adapt(be, h), nil }
	}
	srv, err := server.NewWith(c, o.logs, so)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{srv: srv}, nil
}

// Run runs the instance until ctx ends, then stops gracefully within
// SHUTDOWN_TIMEOUT: intake stops, handlers in flight finish and are
// acknowledged, the leases are released so another instance takes over at
// once. It returns nil after a graceful stop; an error matching
// ErrInvalidConfig when Redis refuses the configuration (e.g. another
// SHARDS in the namespace); another error when the instance cannot go on.
func (d *Dispatcher) Run(ctx context.Context) error { return d.srv.Run(ctx) }

// Addr is the address the instance listens on (LISTEN_ADDR, with the
// port the kernel picked for ":0").
func (d *Dispatcher) Addr() string { return d.srv.Addr() }

// WebhookHandler is the webhook (POST WEBHOOK_PATH, checked against
// WEBHOOK_SECRET), to mount in your own http.ServeMux beside your routes;
// Run must still run, since it dispatches what the webhook enqueues.
// nil with INGEST=poll.
func (d *Dispatcher) WebhookHandler() http.Handler { return d.srv.Webhook() }

// HTTPHandler is everything the instance serves on LISTEN_ADDR: the
// webhook, /healthz, /readyz, /metrics, /ops and in sandbox mode
// /sandbox/.
func (d *Dispatcher) HTTPHandler() http.Handler { return d.srv.Handler() }

// adapt makes h the instance's worker handler.
func adapt(be *server.BotEnv, h Handler) worker.Handler {
	e := &env{BotEnv: be, fsm: fsm.New(be.Redis, 0)}
	return worker.HandlerFunc(func(ctx context.Context, u *update.Update) error {
		c := newContext(ctx, e, u)
		err := h.Handle(c)
		refused := errors.Is(err, ErrNotActive)
		switch {
		case refused && !c.viaRouter.Load():
			c.logPassive()
		case !refused && c.fenced.Load():
			// the handler swallowed a refusal: the update is not its to
			// acknowledge (the ack would be refused too)
			c.logPassive()
			return errors.Join(&NotActiveError{Shard: c.Shard(), Token: tokenOf(c)}, err)
		}
		return err
	})
}

func init() {
	// the binary, `dispatcher smoke`, the benchmark and tests build their
	// instances through New (internal/seam)
	seam.New = func(c config.Config, logs io.Writer, o server.Options) (*seam.Built, error) {
		if o.Bot == nil {
			return nil, errors.New("dispatcher: seam.New needs Options.Bot")
		}
		d, err := newWith(c, logs, o)
		if err != nil {
			return nil, err
		}
		return &seam.Built{Instance: d, Server: d.srv}, nil
	}
	seam.Adapt = func(be *server.BotEnv, h any) worker.Handler { return adapt(be, h.(Handler)) }
}

func newWith(c config.Config, logs io.Writer, so server.Options) (*Dispatcher, error) {
	return New(&Config{c: c}, HandlerFunc(func(*Context) error { return nil }), WithLogOutput(logs),
		func(o *options) { o.server = so })
}

func tokenOf(c *Context) int64 {
	f, _ := lease.FenceFrom(c)
	return f.Token
}
