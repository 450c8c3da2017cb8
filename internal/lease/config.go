package lease

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// DefaultDrain is how long Run waits, by default, for OnStarted to return
// after its context is cancelled (SHUTDOWN_TIMEOUT's default).
const DefaultDrain = 20 * time.Second

// Config configures a Manager. Client, Instance, TTL, Log and Metrics are
// required; zero timings derive from TTL (see DeriveTimings).
type Config struct {
	Client   redis.UniversalClient // never closed by the Manager
	Keys     keys.Space
	Shards   int    // SHARDS, at least 1
	Instance string // INSTANCE_ID, the holder name
	// Owner is this process's identity in the lease hashes (default:
	// Instance, '#' and a random nonce; the server passes the registry's,
	// Registry.Owner). Renewals, releases and re-acquisitions compare it,
	// so another process under the same Instance never takes, renews or
	// releases a lease of this one.
	Owner   string
	TTL     time.Duration // LEASE_TTL
	Log     *telemetry.Logger
	Metrics *metrics.Metrics // LeaseRole, LeaseToken, LeaseTransitions
	Clock   Clock            // nil = real clock

	// OnStarted is called in its own goroutine when a shard's lease is won;
	// ctx is cancelled the moment leadership of that shard ends (step-down,
	// loss, release, shutdown). If it returns while the lease is still held,
	// the lease is released so that the shard is never left without a
	// worker. OnStopped always runs after OnStarted returned.
	OnStarted func(ctx context.Context, shard int, token int64)
	OnStopped func(shard int, token int64)

	// Want, when set, is asked before each acquisition attempt and at each
	// renewal: false means this instance should not hold the shard (a
	// PASSIVE instance does not try; a holder hands the lease over). It is
	// the hook for balancing shards among instances. Nil = every shard.
	Want func(shard int) bool

	// Drain is how long Run waits after its context is cancelled for each
	// OnStarted to return before releasing the lease anyway (default
	// DefaultDrain; the server passes SHUTDOWN_TIMEOUT). The lease is still
	// renewed meanwhile, so in-hand work can be acknowledged.
	Drain time.Duration

	// Optional overrides of the derived timings (zero = derived from TTL).
	RenewEvery    time.Duration
	RenewRetry    time.Duration
	StepDownAfter time.Duration
	RetryEvery    time.Duration
	CallTimeout   time.Duration
}

// timings returns the derived timings with the overrides applied.
func (c *Config) timings() Timings {
	t := DeriveTimings(c.TTL)
	set := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(&t.RenewEvery, c.RenewEvery)
	set(&t.RenewRetry, c.RenewRetry)
	set(&t.StepDownAfter, c.StepDownAfter)
	set(&t.RetryEvery, c.RetryEvery)
	set(&t.CallTimeout, c.CallTimeout)
	return t
}

func (c *Config) validate() error {
	switch {
	case c.Client == nil:
		return badConfig("Client", "required")
	case c.Keys.Namespace() == "":
		return badConfig("Keys", "required (keys.New(namespace))")
	case c.Shards < 1:
		return badConfig("Shards", "must be at least 1, got %d", c.Shards)
	case c.Instance == "":
		return badConfig("Instance", "required (INSTANCE_ID)")
	case c.Log == nil:
		return badConfig("Log", "required (telemetry.Nop() in tests)")
	case c.Metrics == nil:
		return badConfig("Metrics", "required (metrics.NewTest() in tests)")
	case c.Drain < 0:
		return badConfig("Drain", "must not be negative, got %s", c.Drain)
	}
	return c.timings().validate()
}
