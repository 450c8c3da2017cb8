package membership

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

var (
	//go:embed register.lua
	registerSrc string
	//go:embed heartbeat.lua
	heartbeatSrc string
	//go:embed deregister.lua
	deregisterSrc string

	registerScript   = redis.NewScript(registerSrc)
	heartbeatScript  = redis.NewScript(heartbeatSrc)
	deregisterScript = redis.NewScript(deregisterSrc)
)

// DefaultRegistryTTL is the heartbeat lifetime when NewRegistry gets none.
const DefaultRegistryTTL = 10 * time.Second

// InstanceInfo describes one live instance, as its heartbeat has it.
type InstanceInfo struct {
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Version string    `json:"version,omitempty"`
	Addr    string    `json:"addr,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Role    string    `json:"role,omitempty"`
	Shards  []int     `json:"shards,omitempty"` // shards held
	// Mode is "real" or "sandbox" (internal/deployment); Bot is the bot
	// as getMe described it ("@username (id)"); "" from older versions.
	Mode string `json:"mode,omitempty"`
	Bot  string `json:"bot,omitempty"`
	// Reads lists the stream entry formats the instance reads (queue.Formats);
	// empty from versions before the packed format, which read format 1 only.
	Reads []int `json:"reads,omitempty"`
	// Beat is when the last heartbeat was written, by the instance's clock.
	Beat time.Time `json:"beat"`
	// TTL is the time the heartbeat had left when ListInstances read it.
	TTL time.Duration `json:"ttl,omitempty"`
}

// Registry keeps one instance's heartbeat in Redis (keys.Space.Instance):
// a hash {nonce, beat, info} that expires after ttl unless refreshed every
// ttl/3. The nonce (random, one per Registry) tells this process's claim on
// the instance id from another process's.
//
// Guarantees: Register refuses an id whose heartbeat another process keeps
// moving; a leftover heartbeat of a crashed process delays a restart under
// the same id by at most 5/6 of the ttl (two heartbeat intervals and one
// call timeout), never by a full TTL. Not guaranteed: a process paused for longer
// than ttl loses its claim, and a duplicate may then take the id; the paused
// one's Run returns ErrInstanceTakenOver at its first heartbeat after it
// wakes (the server then stops and exits 1), and meanwhile its leases are
// safe from the duplicate and the duplicate's from it (Config.Owner).
type Registry struct {
	c       redis.UniversalClient
	ks      keys.Space
	id      string
	ttl     time.Duration
	every   time.Duration // heartbeat interval, ttl/3
	timeout time.Duration // bound of one Redis call, min(ttl/6, 2s)
	info    func() InstanceInfo
	log     *telemetry.Logger
	nonce   string
	seq     atomic.Int64
	changed func() <-chan struct{} // BeatOnChange; nil: beats on the interval only
}

// changeGap is the least time between two heartbeats that a change
// (BeatOnChange) brings forward: a burst of changes, such as an instance
// taking a thousand shards at start, costs a few beats, not one a shard.
const changeGap = 200 * time.Millisecond

// NewRegistry returns the registry entry of instance id with heartbeats of
// lifetime ttl (DefaultRegistryTTL when not positive; the server passes
// LEASE_TTL). info, when set, is called at every heartbeat for what the
// entry shows; ID and Beat are filled in.
func NewRegistry(c redis.UniversalClient, ks keys.Space, id string, ttl time.Duration, info func() InstanceInfo, log *telemetry.Logger) *Registry {
	if ttl <= 0 {
		ttl = DefaultRegistryTTL
	}
	return &Registry{
		c: c, ks: ks, id: id, ttl: ttl,
		every:   ttl / 3,
		timeout: min(ttl/6, lease.MaxCallTimeout),
		info:    info, log: log,
		nonce: nonce(),
	}
}

// nonce returns 16 random hex characters, one per process component.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Owner returns this process's identity: the instance id, '#' and the
// registry's nonce. The server gives it to the lease Manager (Config.Owner),
// so the heartbeat and the leases name the same process.
func (r *Registry) Owner() string { return r.id + "#" + r.nonce }

// Register claims the instance id. If another process's heartbeat holds
// it, Register watches that heartbeat for up to two heartbeat intervals and
// one call timeout (5/6 of the ttl): as soon as it moves, the other process
// is alive and Register returns ErrDuplicateInstance; if it never moves (a
// crashed process's leftover) or expires, Register takes the id over.
func (r *Registry) Register(ctx context.Context) error {
	ok, first, err := r.claim(ctx, "")
	if err != nil {
		return fmt.Errorf("lease: register %s: %w", r.id, err)
	}
	if ok {
		return nil
	}
	watch := 2*r.every + r.timeout
	deadline := time.Now().Add(watch)
	for {
		wait := min(r.every/4, time.Until(deadline))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("lease: register %s: %w", r.id, context.Cause(ctx))
			case <-t.C:
			}
		}
		stale := ""
		if !time.Now().Before(deadline) {
			stale = first // it never moved: replace it
		}
		ok, cur, err := r.claim(ctx, stale)
		if err != nil {
			return fmt.Errorf("lease: register %s: %w", r.id, err)
		}
		if ok {
			if stale != "" {
				r.log.Service(zapcore.InfoLevel, telemetry.EvServiceStarting, "replaced the heartbeat of a process that stopped beating",
					zap.String(telemetry.FHolder, r.id))
			}
			return nil
		}
		if cur != first {
			return fmt.Errorf("%w: %s is live: its heartbeat moved (%s, then %s)", ErrDuplicateInstance, r.id, first, cur)
		}
	}
}

// Run writes a heartbeat every ttl/3 until ctx is cancelled, then removes
// the entry (with a fresh bounded context) and returns nil. It returns
// ErrInstanceTakenOver, leaving the entry alone, as soon as a heartbeat
// finds that another process has taken the id over (this one was paused
// past the ttl, or cut off from Redis): the caller must stop dispatching.
// Failed heartbeats are logged and retried.
func (r *Registry) Run(ctx context.Context) error {
	failing := false
	for {
		var changed <-chan struct{} // nil: never ready
		if r.changed != nil {
			changed = r.changed() // before the beat: a change during it is not missed
		}
		last := time.Now()
		err := r.beat(ctx)
		switch {
		case errors.Is(err, ErrInstanceTakenOver):
			return err
		case err != nil && ctx.Err() == nil:
			lvl := zapcore.WarnLevel
			if failing {
				lvl = zapcore.DebugLevel
			}
			failing = true
			r.log.Service(lvl, telemetry.EvRedisError, "instance heartbeat failed",
				zap.String(telemetry.FHolder, r.id), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
				zap.String(telemetry.FError, err.Error()))
		case err == nil:
			failing = false
		}
		if !r.wait(ctx, changed, last) {
			r.deregister()
			return nil
		}
	}
}

// BeatOnChange makes Run write the heartbeat again soon after each change
// that changed signals (a channel closed at a change, such as
// lease.Manager.Changed), at most one beat every changeGap, besides the beat
// every ttl/3: `dispatcher status` then shows an instance's new role and
// shards within moments of a failover, not up to ttl/3 later. Call it before
// Run.
func (r *Registry) BeatOnChange(changed func() <-chan struct{}) { r.changed = changed }

// wait returns true after the heartbeat interval, or changeGap after last
// once changed is closed, whichever comes first; false when ctx is done.
func (r *Registry) wait(ctx context.Context, changed <-chan struct{}, last time.Time) bool {
	t := time.NewTimer(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-changed:
			changed = nil // one change brings the beat forward; later ones add nothing
			t.Reset(changeGap - time.Since(last))
		}
	}
}

func (r *Registry) claim(ctx context.Context, stale string) (bool, string, error) {
	beat, info, err := r.entry()
	if err != nil {
		return false, "", err
	}
	var v []any
	err = lease.Bounded(ctx, r.timeout, func(ctx context.Context) error {
		var err error
		v, err = registerScript.Run(ctx, r.c, []string{r.ks.Instance(r.id)}, r.nonce, beat, info, r.ttl.Milliseconds(), stale).Slice()
		return err
	})
	if err != nil {
		return false, "", err
	}
	ok, err := lease.ReplyInt(v, 0)
	if err != nil || len(v) < 2 {
		return false, "", fmt.Errorf("%w: %v", errBadReply, v)
	}
	return ok == 1, fmt.Sprint(v[1]), nil
}

func (r *Registry) beat(ctx context.Context) error {
	beat, info, err := r.entry()
	if err != nil {
		return err
	}
	var n int64
	err = lease.Bounded(ctx, r.timeout, func(ctx context.Context) error {
		var err error
		n, err = heartbeatScript.Run(ctx, r.c, []string{r.ks.Instance(r.id)}, r.nonce, beat, info, r.ttl.Milliseconds()).Int64()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: %s: another live process heartbeats under this id (its nonce is not this process's %s)",
			ErrInstanceTakenOver, r.id, r.nonce)
	}
	return nil
}

func (r *Registry) deregister() {
	err := lease.Bounded(context.Background(), r.timeout, func(ctx context.Context) error {
		return deregisterScript.Run(ctx, r.c, []string{r.ks.Instance(r.id)}, r.nonce).Err()
	})
	if err != nil {
		r.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "instance deregistration failed; the entry expires by itself",
			zap.String(telemetry.FHolder, r.id), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
			zap.String(telemetry.FError, err.Error()))
	}
}

// entry returns the next beat value (nonce:sequence) and the info JSON.
func (r *Registry) entry() (string, string, error) {
	var in InstanceInfo
	if r.info != nil {
		in = r.info()
	}
	in.ID, in.Beat, in.TTL = r.id, time.Now().UTC(), 0
	b, err := json.Marshal(in)
	if err != nil {
		return "", "", fmt.Errorf("lease: instance info: %w", err)
	}
	return r.nonce + ":" + strconv.FormatInt(r.seq.Add(1), 10), string(b), nil
}

// ListInstances returns the live instances, sorted by id, each with the TTL
// left on its heartbeat. It scans every master of a Redis Cluster.
func ListInstances(ctx context.Context, c redis.UniversalClient, ks keys.Space) ([]InstanceInfo, error) {
	names, err := redisx.Scan(ctx, c, ks.InstancePattern())
	if err != nil {
		return nil, fmt.Errorf("lease: list instances: %w", err)
	}
	prefix := strings.TrimSuffix(ks.InstancePattern(), "*")
	out := make([]InstanceInfo, 0, len(names))
	for _, name := range names {
		raw, err := c.HGet(ctx, name, "info").Result()
		if errors.Is(err, redis.Nil) {
			continue // expired since the scan
		}
		if err != nil {
			return nil, fmt.Errorf("lease: list instances: %w", err)
		}
		var in InstanceInfo
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			in = InstanceInfo{}
		}
		in.ID = strings.TrimPrefix(name, prefix)
		if pttl, err := c.PTTL(ctx, name).Result(); err == nil && pttl > 0 {
			in.TTL = pttl
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CommonFormat returns the newest stream entry format, at most latest, that
// every one of instances reads; 1, which every version reads, when there is
// none. An instance whose heartbeat lists no formats (a version before
// InstanceInfo.Reads) reads format 1 only.
func CommonFormat(instances []InstanceInfo, latest int) int {
	if len(instances) == 0 {
		return 1
	}
	for f := latest; f > 1; f-- {
		all := true
		for _, in := range instances {
			if !slices.Contains(in.Reads, f) {
				all = false
				break
			}
		}
		if all {
			return f
		}
	}
	return 1
}
