package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Manager holds the leases of one instance: it tries to acquire every
// shard's lease, renews the ones it holds, steps down when it cannot renew
// in time, and releases them when Run's context is cancelled. Its methods
// are safe for concurrent use.
type Manager struct {
	cfg    Config
	owner  owner
	t      Timings
	clk    Clock
	drain  time.Duration
	shards []*shardState

	running atomic.Bool

	mu      sync.Mutex
	changed chan struct{}
}

// shardState is one shard's lease as this instance sees it.
type shardState struct {
	n     int
	key   keys.Shard
	label string        // metrics label
	wake  chan struct{} // a release was published (capacity 1)

	// guarded by Manager.mu
	held     bool
	token    int64
	lastSend time.Time // send time of the last successful acquire or renewal

	// owned by the shard's loop goroutine
	maxSeen int64 // highest token seen for the shard (the acquisition floor - 1)
	failing bool  // the last Redis call failed (log an outage once)
}

// ShardStatus is one shard's role on this instance, as /readyz shows it.
type ShardStatus struct {
	Role  string `json:"role"`  // telemetry.RoleActive or telemetry.RolePassive
	Token int64  `json:"token"` // the fencing token held, 0 when PASSIVE
}

// NewManager checks cfg and returns a Manager; nothing runs until Run. The
// Logger's role field is wired to the Manager (SetRole). Errors are
// *ConfigError naming the field at fault (errors.Is(err, ErrBadConfig)).
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, owner: owner{Name: cfg.Instance, ID: cfg.Owner}, t: cfg.timings(), clk: cfg.Clock,
		drain: cfg.Drain, changed: make(chan struct{})}
	if m.owner.ID == "" {
		m.owner.ID = cfg.Instance + "#" + nonce()
	}
	if m.clk == nil {
		m.clk = realClock{}
	}
	if m.drain == 0 {
		m.drain = DefaultDrain
	}
	for n := 0; n < cfg.Shards; n++ {
		s := &shardState{n: n, key: cfg.Keys.Shard(n), label: strconv.Itoa(n), wake: make(chan struct{}, 1)}
		m.shards = append(m.shards, s)
	}
	cfg.Log.SetRole(m.Role)
	return m, nil
}

// Timings returns the timings in force.
func (m *Manager) Timings() Timings { return m.t }

// Run acquires and keeps leases until ctx is cancelled, then, for each held
// shard: cancels the work context, keeps renewing while it waits (at most
// Drain) for OnStarted to return, releases the lease with a fresh bounded
// context, publishes the release and calls OnStopped. It returns nil after
// a shutdown; release failures are logged, not returned (the lease then
// expires after TTL). It returns ErrRunning if already running.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer m.running.Store(false)

	subCtx, stopSub := context.WithCancel(context.WithoutCancel(ctx))
	var sub sync.WaitGroup
	sub.Go(func() { m.listen(subCtx) })

	var loops sync.WaitGroup
	for _, s := range m.shards {
		loops.Go(func() { m.runShard(ctx, s) })
	}
	loops.Wait()
	stopSub()
	sub.Wait()
	return nil
}

// Valid reports whether this instance holds shard with token and the
// step-down deadline (StepDownAfter from the send time of the last good
// renewal, by the Manager's clock) has not passed. Check it right before
// starting work under token.
func (m *Manager) Valid(shard int, token int64) bool {
	if shard < 0 || shard >= len(m.shards) {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shards[shard]
	return s.held && s.token == token && m.activeLocked(s, m.clk.Now())
}

// Token returns the token this instance holds for shard, or ErrNotHeld.
func (m *Manager) Token(shard int) (int64, error) {
	if shard < 0 || shard >= len(m.shards) {
		return 0, fmt.Errorf("%w: no shard %d", ErrNotHeld, shard)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shards[shard]
	if !m.activeLocked(s, m.clk.Now()) {
		return 0, fmt.Errorf("%w: shard %d", ErrNotHeld, shard)
	}
	return s.token, nil
}

// Status returns every shard's role and token. A shard past its step-down
// deadline shows PASSIVE even before the loop has noticed.
func (m *Manager) Status() map[int]ShardStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	st := make(map[int]ShardStatus, len(m.shards))
	for _, s := range m.shards {
		if m.activeLocked(s, now) {
			st[s.n] = ShardStatus{Role: telemetry.RoleActive, Token: s.token}
		} else {
			st[s.n] = ShardStatus{Role: telemetry.RolePassive}
		}
	}
	return st
}

// Active reports whether this instance holds at least one shard.
func (m *Manager) Active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	for _, s := range m.shards {
		if m.activeLocked(s, now) {
			return true
		}
	}
	return false
}

// Role returns telemetry.RoleActive when Active, else telemetry.RolePassive.
func (m *Manager) Role() string {
	if m.Active() {
		return telemetry.RoleActive
	}
	return telemetry.RolePassive
}

// Changed returns a channel that is closed at the next role change of any
// shard (and then replaced): wait on it, then read Status.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

func (m *Manager) activeLocked(s *shardState, now time.Time) bool {
	return s.held && now.Before(s.lastSend.Add(m.t.StepDownAfter))
}

// setHeld records a won lease. The gauges change under the same lock as
// the role, so that no reader sees the shard ACTIVE before they do.
func (m *Manager) setHeld(s *shardState, token int64, sent time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.held, s.token, s.lastSend = true, token, sent
	m.cfg.Metrics.LeaseHeld(s.label, token)
	m.notifyLocked()
}

// renewed records the send time of a successful renewal.
func (m *Manager) renewed(s *shardState, token int64, sent time.Time) {
	m.mu.Lock()
	if s.held && s.token == token {
		s.lastSend = sent
	}
	m.mu.Unlock()
}

// setPassive records the end of a leadership, gauges included (see setHeld).
func (m *Manager) setPassive(s *shardState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.held, s.token = false, 0
	m.cfg.Metrics.LeaseLost(s.label)
	m.notifyLocked()
}

func (m *Manager) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Manager) wants(shard int) bool {
	return m.cfg.Want == nil || m.cfg.Want(shard)
}

// WakeAll makes every shard loop waiting to retry try at once, as a
// published release does (the shard balance calls it when this instance's
// quota grows).
func (m *Manager) WakeAll() {
	for _, s := range m.shards {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// nonce is a random per-process identity (hex), for a Manager without
// Config.Owner.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
