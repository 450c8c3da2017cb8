package poll

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Defaults of Config.
const (
	DefaultLimit      = 100 // getUpdates' largest batch
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("poll: bad config")

// Config configures a Poller. Client, Keys, Queue, Ingest, Token, Instance,
// TTL and Log are required.
type Config struct {
	Client   redis.UniversalClient // never closed by the Poller
	Keys     keys.Space
	Queue    *queue.Queue    // claims the shards' poll fences
	Ingest   *ingest.Handler // the path of every update into the streams
	Token    string          // BOT_TOKEN (or the sandbox's); never logged
	APIURL   string          // TELEGRAM_API_URL
	Instance string          // INSTANCE_ID
	// Owner is this process's identity in the poll lease (lease.Config.Owner;
	// the server passes the registry's), so a twin under the same INSTANCE_ID
	// never takes or renews this process's poll lease. Default: Instance and
	// a random nonce.
	Owner   string
	TTL     time.Duration // LEASE_TTL: the poll lease's
	Drain   time.Duration // SHUTDOWN_TIMEOUT: how long a batch in hand may take to finish at shutdown
	Timeout time.Duration // POLL_TIMEOUT, whole seconds
	// AllowedUpdates is getUpdates' allowed_updates (default
	// telegram.AllowedUpdates(), as `dispatcher webhook set` registers).
	AllowedUpdates []string
	Limit          int // getUpdates' limit, 1-100 (default 100)
	Log            *telemetry.Logger
	Metrics        *metrics.Metrics // Telegram requests and errors; nil: a private registry
	// MinBackoff and MaxBackoff bound the wait after a failure, doubled
	// from MinBackoff per failure in a row (jittered by ±20%).
	MinBackoff, MaxBackoff time.Duration
	// StallMidBatch, testing only (DISPATCHER_FAULTS pollstall=): after the
	// first update of a batch of two or more is appended, the poller waits
	// this long, whatever happens meanwhile, before the rest.
	StallMidBatch time.Duration
}

// Poller is one instance's side of long polling: it contends for the poll
// lease and, while it holds it, polls. Create it with New, run it with Run.
type Poller struct {
	cfg    Config
	tg     *telegram.Client
	leases *lease.Manager
	run    atomic.Pointer[context.Context] // Run's context, to tell a shutdown from a lost lease
}

//go:embed offset.lua
var offsetLua string

var offsetScript = lease.NewFencedScript(offsetLua)

// New checks cfg and returns a Poller; nothing runs until Run.
func New(cfg Config) (*Poller, error) {
	switch {
	case cfg.Client == nil || cfg.Queue == nil || cfg.Ingest == nil || cfg.Log == nil:
		return nil, errors.Join(ErrConfig, errors.New("poll: Client, Queue, Ingest and Log are required"))
	case cfg.Timeout < 0 || cfg.Timeout%time.Second != 0:
		return nil, errors.Join(ErrConfig, errors.New("poll: Timeout must be whole seconds"))
	}
	if cfg.Limit <= 0 || cfg.Limit > DefaultLimit {
		cfg.Limit = DefaultLimit
	}
	if cfg.AllowedUpdates == nil {
		cfg.AllowedUpdates = telegram.AllowedUpdates()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	// getUpdates goes through the Bot API client for its redaction, metrics
	// and TELEGRAM_API_ERROR, but with no retries and no limiter of its own:
	// the poll loop backs off (and honours retry_after) itself.
	tg, err := telegram.New(telegram.Config{Token: cfg.Token, APIURL: cfg.APIURL, Log: cfg.Log, Metrics: cfg.Metrics,
		HTTPClient: &http.Client{Timeout: cfg.Timeout + 15*time.Second}, NoLimits: true,
		RetryAttempts: 1, MaxRetryWait: time.Nanosecond})
	if err != nil {
		return nil, err
	}
	p := &Poller{cfg: cfg, tg: tg}
	// The poll lease's LEASE_* events say lease=poll (their shard is the
	// poll lease's 0), and its gauges stay out of /metrics, whose lease
	// series are per stream shard; /readyz shows the poll lease.
	leaseLog := cfg.Log.With(zap.String(telemetry.FLease, "poll"))
	p.leases, err = lease.NewManager(lease.Config{Client: cfg.Client, Keys: cfg.Keys.Poll(), Shards: 1,
		Instance: cfg.Instance, Owner: cfg.Owner, TTL: cfg.TTL, Log: leaseLog, Metrics: metrics.New(prometheus.NewRegistry()),
		OnStarted: p.lead, Drain: cfg.Drain})
	if err != nil {
		return nil, err
	}
	leaseLog.SetRole(cfg.Log.Role) // the instance's role (shard leases), not the poll lease's
	return p, nil
}

// Run contends for the poll lease and polls while holding it, until ctx is
// cancelled; then it stops polling (a batch in hand is finished, within
// Drain), releases the lease so that another instance takes over at once,
// and returns nil.
func (p *Poller) Run(ctx context.Context) error {
	p.run.Store(&ctx)
	return p.leases.Run(ctx)
}

// Status returns the poll lease's role on this instance and its token (0
// when PASSIVE), for /readyz.
func (p *Poller) Status() lease.ShardStatus { return p.leases.Status()[0] }

// lead is the poll lease's OnStarted: it polls under token until the lease
// ends (ctx) or a newer poller fences it.
func (p *Poller) lead(ctx context.Context, _ int, token int64) {
	p.cfg.Log.PollStarted(token)
	reason, why := p.poll(ctx, token)
	if reason == "" {
		why = "poll lease lost"
		if run := p.run.Load(); run != nil && (*run).Err() != nil {
			why = "shutting down"
		}
	}
	p.cfg.Log.PollStopped(token, reason, why)
}
