package membership

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

var (
	//go:embed members.lua
	membersSrc    string
	membersScript = redis.NewScript(membersSrc)
)

// Balancer shares a namespace's shards among its live instances: it is the
// Want hook of a Manager (Config.Want) and keeps this instance's entry in
// the set of live instances (keys.Space.Members).
//
// The rule, with S shards and L live instances, is that no instance holds
// more than Quota = ceil(S / L) shards:
//   - a shard this instance holds is kept while it is among the Quota
//     lowest-numbered shards it holds; otherwise Want turns false and the
//     Manager hands it over at its next renewal: it cancels the shard's work,
//     waits for it to end, releases the lease and publishes the release, so
//     an instance under its quota acquires it at once (not after the TTL);
//   - a shard it does not hold is wanted while it holds fewer than Quota.
//
// Membership: each Balancer refreshes its entry every Every (TTL/10) with a
// lifetime of MemberLife (TTL/2), in Redis time; Run removes the entry when
// it ends. An instance that stopped beating drops out of the others' count
// within MemberLife + Every, before its leases can expire (at least 2/3 of
// the TTL after its last renewal), so its shards are wanted by the others by
// the time they become free and are taken over right after the expiry.
// The set is read and written by one single-key script: the key has no
// hash tag and lives on any Redis Cluster node.
//
// Guarantees: with membership stable, every shard ends up held and no
// instance holds more than Quota; a joining instance gets its share by
// release and acquire within one renewal interval (TTL/3) of the others
// seeing it.
//
// Not guaranteed:
//   - Evenness beyond the ceiling: with 6 shards on 4 instances the split
//     may be 2,2,2,0 (the contract bounds the maximum only). Choose SHARDS a
//     multiple of the instance count.
//   - Instantaneous bounds: after a change an instance may hold one more
//     than its quota until its next renewal (two of its shard loops won at
//     the same moment, or the holders have not released yet after a join).
//   - An instance paused for longer than MemberLife counts as gone for that
//     time: the others may take any of its shards whose lease expired, and
//     give them back by the same rule when it returns.
type Balancer struct {
	c       redis.UniversalClient
	ks      keys.Space
	id      string
	shards  int
	every   time.Duration
	life    time.Duration
	timeout time.Duration
	log     *telemetry.Logger

	mu      sync.Mutex
	live    []string // last view, sorted; always holds this instance
	status  func() map[int]lease.ShardStatus
	wake    func() // makes the Manager's PASSIVE shard loops try at once
	failing bool
}

// NewBalancer returns the balancer of instance id for shards shards, with
// timings derived from the lease TTL (see BalanceTimings). Attach the
// Manager's Status with Track before the Manager runs.
func NewBalancer(c redis.UniversalClient, ks keys.Space, id string, shards int, ttl time.Duration, log *telemetry.Logger) *Balancer {
	every, life, timeout := BalanceTimings(ttl)
	return &Balancer{c: c, ks: ks, id: id, shards: max(shards, 1), every: every, life: life,
		timeout: timeout, log: log, live: []string{id}}
}

// BalanceTimings returns, for a lease TTL, how often a Balancer refreshes
// its membership (TTL/10), how long an entry lives without refresh (TTL/2)
// and the bound of one Redis call (min(TTL/6, 2s)).
func BalanceTimings(ttl time.Duration) (every, life, timeout time.Duration) {
	return ttl / 10, ttl / 2, min(ttl/6, lease.MaxCallTimeout)
}

// Track attaches the Manager whose Want this balancer is: it reads the
// shards the Manager holds, and wakes the Manager's PASSIVE shard loops
// when its quota grows, so that they try at once rather than at their next
// retry.
func (b *Balancer) Track(m *lease.Manager) {
	b.track(m.Status, m.WakeAll)
}

func (b *Balancer) track(status func() map[int]lease.ShardStatus, wake func()) {
	b.mu.Lock()
	b.status, b.wake = status, wake
	b.mu.Unlock()
}

// Live returns the live instances as last seen, sorted by id.
func (b *Balancer) Live() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.live)
}

// Quota returns ceil(shards / live instances) as last seen.
func (b *Balancer) Quota() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.quotaLocked()
}

func (b *Balancer) quotaLocked() int {
	n := max(len(b.live), 1)
	return (b.shards + n - 1) / n
}

// Want reports whether this instance should hold shard (see Balancer). It
// is Config.Want of the Manager and never calls Redis.
func (b *Balancer) Want(shard int) bool {
	if b.shards <= 1 {
		return true
	}
	b.mu.Lock()
	status, quota := b.status, b.quotaLocked()
	b.mu.Unlock()
	var held []int
	if status != nil {
		for n, st := range status() {
			if st.Role == telemetry.RoleActive {
				held = append(held, n)
			}
		}
	}
	slices.Sort(held)
	if i := slices.Index(held, shard); i >= 0 {
		return i < quota
	}
	return len(held) < quota
}

// Join writes this instance's entry and reads the live instances once. Call
// it before the Manager runs, so that its first acquisitions already count
// the instances that are there.
func (b *Balancer) Join(ctx context.Context) error {
	return b.beat(ctx, b.life)
}

// Run refreshes the entry every Every until ctx is cancelled, then removes
// it with a fresh bounded context (the others then count one instance
// fewer and take over the shards this one releases) and returns nil.
// Failed refreshes are logged (once per outage) and retried; the last view
// stays in force meanwhile.
func (b *Balancer) Run(ctx context.Context) error {
	for {
		t := time.NewTimer(b.every)
		select {
		case <-ctx.Done():
			t.Stop()
			if err := b.beat(context.Background(), 0); err != nil {
				b.log.Service(zapcore.WarnLevel, telemetry.EvRedisError,
					"leaving the shard balance failed; the entry expires by itself",
					zap.String(telemetry.FHolder, b.id), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
					zap.String(telemetry.FError, err.Error()))
			}
			return nil
		case <-t.C:
		}
		_ = b.beat(ctx, b.life)
	}
}

// beat runs the membership script with lifetime life (0: leave) and
// records the view.
func (b *Balancer) beat(ctx context.Context, life time.Duration) error {
	var ids []string
	err := lease.Bounded(ctx, b.timeout, func(ctx context.Context) error {
		var err error
		ids, err = membersScript.Run(ctx, b.c, []string{b.ks.Members()}, b.id, life.Milliseconds()).StringSlice()
		return err
	})
	if err != nil {
		if life > 0 && ctx.Err() == nil {
			b.failed(err)
		}
		return fmt.Errorf("lease: balance membership: %w", err)
	}
	if life == 0 {
		return nil
	}
	if !slices.Contains(ids, b.id) {
		ids = append(ids, b.id)
	}
	slices.Sort(ids)
	b.mu.Lock()
	changed := !slices.Equal(ids, b.live)
	recovered := b.failing
	before := b.quotaLocked()
	b.live, b.failing = ids, false
	quota, wake := b.quotaLocked(), b.wake
	b.mu.Unlock()
	if quota > before && wake != nil {
		wake()
	}
	if recovered {
		b.log.Service(zapcore.InfoLevel, telemetry.EvRedisError, "shard balance membership refreshed again",
			zap.String(telemetry.FHolder, b.id))
	}
	if changed {
		b.log.Service(zapcore.InfoLevel, telemetry.EvShardBalance,
			fmt.Sprintf("shard balance: %d live instance(s), at most %d of %d shards each", len(ids), quota, b.shards),
			zap.Strings("instances", ids), zap.Int("quota", quota))
	}
	return nil
}

func (b *Balancer) failed(err error) {
	b.mu.Lock()
	first := !b.failing
	b.failing = true
	b.mu.Unlock()
	lvl := zapcore.DebugLevel
	if first {
		lvl = zapcore.WarnLevel
	}
	b.log.Service(lvl, telemetry.EvRedisError, "shard balance membership refresh failed; keeping the last view",
		zap.String(telemetry.FHolder, b.id), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
		zap.String(telemetry.FError, err.Error()))
}
