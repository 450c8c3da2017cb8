package lease

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/tcpproxy"
)

// activeOf returns the nodes that are ACTIVE for shard 0 right now.
func activeOf(nodes ...*node) []*node {
	var out []*node
	for _, n := range nodes {
		if n.m.Status()[0].Role == telemetry.RoleActive {
			out = append(out, n)
		}
	}
	return out
}

// waitOneActive waits (bounded) until exactly one node is ACTIVE with a
// token above after, and returns it with its token.
func waitOneActive(t *testing.T, within time.Duration, after int64, nodes ...*node) (*node, int64) {
	t.Helper()
	var got *node
	var tok int64
	eventually(t, within, "one ACTIVE node with a larger token", func() bool {
		a := activeOf(nodes...)
		if len(a) != 1 {
			return false
		}
		got, tok = a[0], a[0].m.Status()[0].Token
		return tok > after
	})
	return got, tok
}

func other(a *node, nodes ...*node) *node {
	for _, n := range nodes {
		if n != a {
			return n
		}
	}
	return nil
}

func TestRedisRestartedEmptyUnderLeader(t *testing.T) {
	srv := redistest.NewServer(t, false)
	ks := keys.New("r")
	const ttl = 2 * time.Second // LEASE_TTL of the acceptance runs
	a := newNode(t, "a", dial(t, srv.URL()), ks, Config{TTL: ttl}).start(t)
	b := newNode(t, "b", dial(t, srv.URL()), ks, Config{TTL: ttl}).start(t)
	leader, t1 := waitOneActive(t, 3*time.Second, 0, a, b)

	probe := srv.Client()
	require.NoError(t, probe.Set(context.Background(), "marker", "1", 0).Err())
	srv.Kill()
	srv.Start() // empty: no persistence
	restarted := time.Now()
	require.Equal(t, int64(0), probe.Exists(context.Background(), "marker").Val(), "Redis lost its data")

	// An ACTIVE instance exists again within LEASE_TTL + 1s, with a larger
	// token, and Redis agrees.
	var now *node
	var t2 int64
	eventually(t, ttl+time.Second, "an ACTIVE instance held in Redis with a larger token", func() bool {
		info, err := Inspect(context.Background(), srv.Client(), ks, 0)
		if err != nil || !info.Held {
			return false
		}
		for _, n := range []*node{a, b} {
			if st := n.m.Status()[0]; n.id == info.Holder && st.Token == info.Token {
				now, t2 = n, info.Token
				return true
			}
		}
		return false
	})
	took := time.Since(restarted)
	require.Greater(t, t2, t1)
	t.Logf("ACTIVE again %s after the empty restart (leader %s token %d -> %s token %d)", took.Round(time.Millisecond), leader.id, t1, now.id, t2)
	// The old leadership ended (renewal found the lease gone, or a
	// step-down) and was logged.
	waitEvent(t, leader.log, telemetry.EvLeaseLost, map[string]any{telemetry.FToken: t1})
}

func TestPartitionedLeaderStepsDownBeforeExpiry(t *testing.T) {
	direct, ks := realClient(t)
	proxy := tcpproxy.New(t, strings.TrimPrefix(redistest.URL(t), "redis://"))
	const ttl = 1500 * time.Millisecond
	a := newNode(t, "a", dial(t, "redis://"+proxy.Addr()), ks, Config{TTL: ttl})
	type seen struct {
		info LeaseInfo
		at   time.Time
	}
	atStepDown := make(chan seen, 1)
	a.work = func(ctx context.Context, shard int, token int64) {
		<-ctx.Done()
		info, _ := Inspect(context.Background(), direct, ks, shard)
		atStepDown <- seen{info, time.Now()}
	}
	a.start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, redistest.URL(t)), ks, Config{TTL: ttl}).start(t)

	proxy.Stall()
	stalled := time.Now()
	var s seen
	select {
	case s = <-atStepDown:
	case <-time.After(3 * time.Second):
		t.Fatal("a did not step down")
	}
	// a stopped while Redis still had its lease: nobody else could have
	// started yet.
	require.Equal(t, "a", s.info.Holder)
	require.Equal(t, sa.token, s.info.Token)
	require.Greater(t, s.info.TTL, time.Duration(0))
	require.False(t, a.m.Valid(0, sa.token))
	t.Logf("a stepped down %s after the stall with %s left on its lease", s.at.Sub(stalled).Round(time.Millisecond), s.info.TTL)
	waitEvent(t, a.log, telemetry.EvLeaseRenewFailed, map[string]any{telemetry.FToken: sa.token})
	waitEvent(t, a.log, telemetry.EvLeaseLost, map[string]any{telemetry.FToken: sa.token})

	sb := b.waitStarted(t, ttl+time.Second)
	require.Greater(t, sb.token, sa.token)
	require.True(t, sb.at.After(s.at), "b started after a stopped")
	t.Logf("b ACTIVE %s after the stall", sb.at.Sub(stalled).Round(time.Millisecond))

	// a's writes are fenced: locally at once, and by Redis once it can reach it.
	write := NewFencedScript(`return redis.call('SET', KEYS[2], ARGV[2])`)
	key := ks.Shard(0).Tag() + "state"
	_, err := a.m.RunFenced(context.Background(), write, 0, sa.token, []string{key}, "stale")
	require.ErrorIs(t, err, ErrNotHeld)
	require.ErrorIs(t, err, ErrFenced)
	proxy.Restore()
	err = MapFenced(write.Run(context.Background(), a.m.cfg.Client, ks.Shard(0), sa.token, []string{key}, "stale").Err())
	require.ErrorIs(t, err, ErrFenced)
	_, err = b.m.RunFenced(context.Background(), write, 0, sb.token, []string{key}, "fresh")
	require.NoError(t, err)
	require.Equal(t, "fresh", direct.Get(context.Background(), key).Val())

	// Healed, a stays PASSIVE: b holds the lease.
	for deadline := time.Now().Add(2 * a.m.Timings().RetryEvery); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.Equal(t, []*node{b}, activeOf(a, b))
	}
}

func TestKilledConnectionKeepsLeader(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.ContextTimeoutEnabled = true
	opt.ClientName = "lease-" + ks.Namespace()
	ca := redis.NewClient(opt)
	t.Cleanup(func() { _ = ca.Close() })
	admin := dial(t, url)

	const ttl = 2 * time.Second
	a := newNode(t, "a", ca, ks, Config{TTL: ttl}).start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)

	killed := 0
	for round := 0; round < 3; round++ {
		list, err := admin.ClientList(context.Background()).Result()
		require.NoError(t, err)
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+opt.ClientName+" ") {
				id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
				require.NoError(t, admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err())
				killed++
			}
		}
		// Over a renew interval and more, a keeps the lease and b stays PASSIVE.
		for deadline := time.Now().Add(a.m.Timings().RenewEvery * 3 / 2); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			require.Equal(t, []*node{a}, activeOf(a, b))
		}
	}
	require.Positive(t, killed)
	require.True(t, a.m.Valid(0, sa.token), "same token after the kills")
	require.NoError(t, sa.ctx.Err())
}

func TestShutdownHandsOverAtOnce(t *testing.T) {
	c, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = 5 * time.Second // a handover by expiry would take seconds
	a := newNode(t, "a", dial(t, url), ks, Config{TTL: ttl}).start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)
	eventually(t, 3*time.Second, "b subscribed", func() bool {
		m, err := c.PubSubNumSub(context.Background(), ks.LeaseReleased()).Result()
		return err == nil && m[ks.LeaseReleased()] == 2
	})

	stopAt := time.Now()
	a.stop(t)
	ranFor := time.Since(stopAt)
	st := a.waitStopped(t, time.Second)
	require.Equal(t, sa.token, st.token)
	require.True(t, st.workEnded)
	waitEvent(t, a.log, telemetry.EvLeaseReleased, map[string]any{telemetry.FToken: sa.token, telemetry.FHolder: "a"})
	require.False(t, a.m.Active())

	sb := b.waitStarted(t, time.Second)
	took := sb.at.Sub(stopAt)
	require.Less(t, took, time.Second)
	require.Greater(t, sb.token, sa.token)
	t.Logf("Run returned after %s; b ACTIVE %s after a was told to stop", ranFor.Round(time.Microsecond), took.Round(time.Microsecond))
}

func TestDrainKeepsLeaseUntilWorkReturns(t *testing.T) {
	c, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = time.Second
	a := newNode(t, "a", dial(t, url), ks, Config{TTL: ttl})
	finish := make(chan struct{})
	acked := make(chan error, 1)
	write := NewFencedScript(`return redis.call('SET', KEYS[2], ARGV[2])`)
	key := ks.Shard(0).Tag() + "ack"
	a.work = func(ctx context.Context, shard int, token int64) {
		<-ctx.Done() // told to stop: finish what is in hand, then ack
		<-finish
		_, err := a.m.RunFenced(context.Background(), write, shard, token, []string{key}, "acked")
		acked <- err
	}
	a.start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)

	a.cancel() // shutdown begins; the work is still in hand
	waitDone(t, sa.ctx, time.Second, "work context")
	// For more than two TTLs the lease stays a's: it is still renewed.
	for deadline := time.Now().Add(2 * ttl); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.True(t, a.m.Valid(0, sa.token))
		require.Equal(t, []*node{a}, activeOf(a, b))
	}
	close(finish)
	require.NoError(t, <-acked, "the in-hand work acked under its token during the drain")
	require.Equal(t, "acked", c.Get(context.Background(), key).Val())
	sb := b.waitStarted(t, time.Second)
	require.Greater(t, sb.token, sa.token)
	a.stop(t)
}

func TestDrainBoundReleasesAnyway(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = time.Second
	a := newNode(t, "a", dial(t, url), ks, Config{TTL: ttl, Drain: 200 * time.Millisecond})
	release := make(chan struct{})
	a.work = func(ctx context.Context, shard int, token int64) { <-release } // ignores ctx
	a.start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)

	a.stop(t) // returns after the drain bound although the work still runs
	require.False(t, a.m.Valid(0, sa.token))
	sb := b.waitStarted(t, time.Second)
	require.Greater(t, sb.token, sa.token)
	waitEvent(t, a.log, telemetry.EvServiceStopping, map[string]any{telemetry.FMsg: "~outlived the drain"})
	select {
	case <-a.stopped:
		t.Fatal("OnStopped ran before OnStarted returned")
	default:
	}
	close(release)
	st := a.waitStopped(t, time.Second)
	require.True(t, st.workEnded)
}

func TestWorkEndingHandsOver(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = 5 * time.Second
	a := newNode(t, "a", dial(t, url), ks, Config{TTL: ttl})
	a.work = func(ctx context.Context, shard int, token int64) {} // returns at once
	a.start(t)
	sa := a.waitStarted(t, 3*time.Second)
	waitEvent(t, a.log, telemetry.EvLeaseReleased, map[string]any{telemetry.FToken: sa.token})
	require.True(t, a.waitStopped(t, time.Second).workEnded)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)
	sb := b.waitStarted(t, 3*time.Second)
	require.Greater(t, sb.token, sa.token)
}

func TestWantFalseHandsOver(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = 1500 * time.Millisecond
	want := make(chan bool, 1)
	want <- true
	wants := func(int) bool { w := <-want; want <- w; return w }
	a := newNode(t, "a", dial(t, url), ks, Config{TTL: ttl, Want: wants}).start(t)
	sa := a.waitStarted(t, 3*time.Second)
	b := newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}).start(t)
	<-want
	want <- false // balancing: a should not hold shard 0 any more
	waitDone(t, sa.ctx, 2*ttl, "a's work")
	sb := b.waitStarted(t, 2*ttl)
	require.Greater(t, sb.token, sa.token)
	waitEvent(t, a.log, telemetry.EvLeaseReleased, map[string]any{telemetry.FToken: sa.token})
	for deadline := time.Now().Add(2 * a.m.Timings().RetryEvery); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.Equal(t, []*node{b}, activeOf(a, b))
	}
}

func TestThreeInstancesExactlyOneActive(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = 2 * time.Second // LEASE_TTL of the acceptance runs
	nodes := []*node{
		newNode(t, "a", dial(t, url), ks, Config{TTL: ttl}),
		newNode(t, "b", dial(t, url), ks, Config{TTL: ttl}),
		newNode(t, "c", dial(t, url), ks, Config{TTL: ttl}),
	}
	for _, n := range nodes {
		n.start(t)
	}
	first, tok := waitOneActive(t, 3*time.Second, 0, nodes...)
	samples := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a := activeOf(nodes...)
		require.Len(t, a, 1, "sample %d", samples)
		require.Equal(t, first, a[0])
		require.Equal(t, tok, a[0].m.Status()[0].Token)
		samples++
	}
	t.Logf("%d samples, exactly one ACTIVE in each", samples)
	require.Equal(t, telemetry.RoleActive, first.m.Role())
	require.Equal(t, telemetry.RolePassive, other(first, nodes...).m.Role())
}

func TestChangedAndMetrics(t *testing.T) {
	_, ks := realClient(t)
	a := newNode(t, "a", dial(t, redistest.URL(t)), ks, Config{TTL: time.Second, Shards: 2})
	ch := a.m.Changed()
	a.start(t)
	select {
	case <-ch:
	case <-time.After(3 * time.Second):
		t.Fatal("Changed not closed on acquisition")
	}
	eventually(t, 3*time.Second, "both shards held", func() bool {
		st := a.m.Status()
		return st[0].Role == telemetry.RoleActive && st[1].Role == telemetry.RoleActive
	})
	tok, err := a.m.Token(1)
	require.NoError(t, err)
	require.Equal(t, a.m.Status()[1].Token, tok)
	_, err = a.m.Token(2)
	require.ErrorIs(t, err, ErrNotHeld)
	require.Equal(t, 1.0, gauge(t, a.m, "dispatcher_lease_active", "1"))
	require.Equal(t, float64(tok), gauge(t, a.m, "dispatcher_lease_token", "1"))
	require.ErrorIs(t, a.m.Run(context.Background()), ErrRunning)
	a.stop(t)
	// released: the series go (a PASSIVE instance exports no lease gauges,
	// so that no instance exports every shard's)
	require.False(t, hasGauge(t, a.m, "dispatcher_lease_active", "1"))
	require.False(t, hasGauge(t, a.m, "dispatcher_lease_token", "1"))
	require.Equal(t, map[int]ShardStatus{0: {Role: telemetry.RolePassive}, 1: {Role: telemetry.RolePassive}}, a.m.Status())
}

func hasGauge(t *testing.T, m *Manager, name, shard string) bool {
	t.Helper()
	mfs, err := m.cfg.Metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if mf.GetName() == name && l.GetName() == "shard" && l.GetValue() == shard {
					return true
				}
			}
		}
	}
	return false
}

func gauge(t *testing.T, m *Manager, name, shard string) float64 {
	t.Helper()
	mfs, err := m.cfg.Metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "shard" && l.GetValue() == shard {
					return s.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{shard=%q}", name, shard)
	return 0
}

// TestCrashedHolderReplacedAfterTTL: a holder that dies without a word
// (kill -9) is replaced once its lease expires in Redis, never before, and
// within LEASE_TTL + 1s.
func TestCrashedHolderReplacedAfterTTL(t *testing.T) {
	c, ks := realClient(t)
	const ttl = 2 * time.Second // LEASE_TTL of the acceptance runs
	b := newNode(t, "b", dial(t, redistest.URL(t)), ks, Config{TTL: ttl})
	crashed, err := acquireLease(context.Background(), c, ks.Shard(0), ownerOf("crashed"), ttl, 0)
	require.NoError(t, err)
	acquiredAt := time.Now() // the crashed holder's last word reached Redis before this
	b.start(t)
	sb := b.waitStarted(t, ttl+time.Second)
	took := sb.at.Sub(acquiredAt)
	require.GreaterOrEqual(t, took, ttl-50*time.Millisecond, "not before the lease expired")
	require.Less(t, took, ttl+time.Second)
	require.Greater(t, sb.token, crashed.Token)
	t.Logf("crashed holder replaced %s after its last renewal (TTL %s)", took.Round(time.Millisecond), ttl)
}
