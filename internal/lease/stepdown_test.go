package lease

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// With TTL 3s the derived timings are: renew every 1s, retry a failed
// renewal after 250ms, step down 2s after the last good renewal's send
// time, Redis calls bounded by 500ms, PASSIVE attempts every 600ms ±20%.
const clockTTL = 3 * time.Second

func TestStepDownByInjectedClock(t *testing.T) {
	mini, c := redistest.Mini(t)
	ks := keys.New("t")
	clk := newManualClock()
	n := newNode(t, "a", c, ks, Config{TTL: clockTTL, Clock: clk}).start(t)
	tm := n.m.Timings()

	t0 := clk.Now()
	s := n.waitStarted(t, 5*time.Second)
	require.True(t, n.m.Valid(0, s.token))
	require.Equal(t, ShardStatus{Role: telemetry.RoleActive, Token: s.token}, n.m.Status()[0])

	// The first renewal comes RenewEvery after the acquisition's send time.
	at := clk.waitWaiter(t, t0.Add(tm.RenewEvery), t0.Add(tm.RenewEvery))
	clk.AdvanceTo(at) // renewal at t0+1s succeeds
	t1 := at
	clk.waitWaiter(t, t1.Add(tm.RenewEvery), t1.Add(tm.RenewEvery))
	require.True(t, n.m.Valid(0, s.token))

	// Redis fails from now on: the renewals at t1+1s, +1.25s, ... fail.
	mini.SetError("ERR injected failure")
	changed := n.m.Changed()
	clk.AdvanceTo(t1.Add(tm.RenewEvery))
	waitEvent(t, n.log, telemetry.EvLeaseRenewFailed, map[string]any{telemetry.FToken: s.token})
	clk.waitWaiter(t, t1.Add(tm.RenewEvery+tm.RenewRetry), t1.Add(tm.RenewEvery+tm.RenewRetry))
	require.True(t, n.m.Valid(0, s.token), "still valid before the step-down deadline")

	// One millisecond before the deadline: still valid.
	clk.AdvanceTo(t1.Add(tm.StepDownAfter - time.Millisecond))
	require.True(t, n.m.Valid(0, s.token))
	require.NoError(t, s.ctx.Err())

	// At the deadline Valid is false at once, before the loop has run.
	clk.waitWaiter(t, t1.Add(tm.StepDownAfter), t1.Add(tm.StepDownAfter))
	clk.AdvanceTo(t1.Add(tm.StepDownAfter))
	require.False(t, n.m.Valid(0, s.token))
	require.Equal(t, telemetry.RolePassive, n.m.Status()[0].Role)
	require.False(t, n.m.Active())

	// The loop steps down: work cancelled, LEASE_LOST, Changed, OnStopped.
	waitDone(t, s.ctx, 5*time.Second, "work context")
	waitEvent(t, n.log, telemetry.EvLeaseLost, map[string]any{telemetry.FToken: s.token, telemetry.FReasonText: "~no successful renewal"})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed")
	}
	st := n.waitStopped(t, 5*time.Second)
	require.Equal(t, s.token, st.token)
	require.True(t, st.workEnded, "OnStopped after OnStarted returned")

	// The key is still in Redis with time to live: the holder was gone
	// before it could expire (miniredis's clock has not moved at all).
	mini.SetError("")
	info, err := Inspect(context.Background(), c, ks, 0)
	require.NoError(t, err)
	require.Equal(t, "a", info.Holder)
	require.Greater(t, info.TTL, time.Duration(0))
}

// renewLatency is a go-redis hook that moves the manual clock forward
// while a renewal is in flight (a slow reply).
type renewLatency struct {
	clk   *manualClock
	delay atomic.Int64
}

func (h *renewLatency) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *renewLatency) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *renewLatency) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() != "evalsha" && cmd.Name() != "eval" {
			return err
		}
		if d := h.delay.Swap(0); d > 0 { // once: EVALSHA may be followed by EVAL
			h.clk.Advance(time.Duration(d))
		}
		return err
	}
}

func TestStepDownCountsFromSendTime(t *testing.T) {
	mini, c := redistest.Mini(t)
	clk := newManualClock()
	hook := &renewLatency{clk: clk}
	c.AddHook(hook)
	n := newNode(t, "a", c, keys.New("t"), Config{TTL: clockTTL, Clock: clk}).start(t)
	tm := n.m.Timings()
	t0 := clk.Now()
	s := n.waitStarted(t, 5*time.Second)

	// The renewal sent at t1 takes 400ms to answer.
	t1 := clk.waitWaiter(t, t0.Add(tm.RenewEvery), t0.Add(tm.RenewEvery))
	hook.delay.Store(int64(400 * time.Millisecond))
	clk.AdvanceTo(t1)
	clk.waitWaiter(t, t1.Add(tm.RenewEvery), t1.Add(tm.RenewEvery))
	require.Equal(t, t1.Add(400*time.Millisecond), clk.Now())
	mini.SetError("ERR injected failure")

	// The deadline counts from t1 (the send time), not from the reply.
	clk.AdvanceTo(t1.Add(tm.StepDownAfter - time.Millisecond))
	require.True(t, n.m.Valid(0, s.token))
	clk.Advance(time.Millisecond)
	require.False(t, n.m.Valid(0, s.token))
	waitDone(t, s.ctx, 5*time.Second, "work context")
	waitEvent(t, n.log, telemetry.EvLeaseLost, map[string]any{telemetry.FToken: s.token})
}

func TestRenewalCadence(t *testing.T) {
	_, c := redistest.Mini(t)
	clk := newManualClock()
	n := newNode(t, "a", c, keys.New("t"), Config{TTL: clockTTL, Clock: clk}).start(t)
	tm := n.m.Timings()
	t0 := clk.Now()
	s := n.waitStarted(t, 5*time.Second)
	// Each successful renewal schedules the next one RenewEvery after its
	// send time, and the lease stays valid throughout.
	at := t0
	for i := 0; i < 5; i++ {
		at = clk.waitWaiter(t, at.Add(tm.RenewEvery), at.Add(tm.RenewEvery))
		clk.AdvanceTo(at)
		require.True(t, n.m.Valid(0, s.token), "renewal %d", i)
	}
	clk.waitWaiter(t, at.Add(tm.RenewEvery), at.Add(tm.RenewEvery))
	require.NoError(t, s.ctx.Err())
	require.Empty(t, n.log.events(string(telemetry.EvLeaseRenewFailed)))
}

func TestLostWhenAnotherHolds(t *testing.T) {
	mini, c := redistest.Mini(t)
	ks := keys.New("t")
	clk := newManualClock()
	n := newNode(t, "a", c, ks, Config{TTL: clockTTL, Clock: clk}).start(t)
	tm := n.m.Timings()
	t0 := clk.Now()
	s := n.waitStarted(t, 5*time.Second)

	// Someone else holds the lease now (as after an expiry and a takeover).
	mini.HSet(ks.Shard(0).Lease(), "holder", "b")
	mini.HSet(ks.Shard(0).Lease(), "token", "99999999999999")
	at := clk.waitWaiter(t, t0.Add(tm.RenewEvery), t0.Add(tm.RenewEvery))
	clk.AdvanceTo(at)
	waitDone(t, s.ctx, 5*time.Second, "work context")
	waitEvent(t, n.log, telemetry.EvLeaseLost, map[string]any{telemetry.FReasonText: "~held by b with token 99999999999999"})
	require.False(t, n.m.Valid(0, s.token))
	n.waitStopped(t, 5*time.Second)
	// The lease of b is not touched.
	require.Equal(t, "b", mini.HGet(ks.Shard(0).Lease(), "holder"))
}

func TestPassiveRetryTimings(t *testing.T) {
	mini, c := redistest.Mini(t)
	ks := keys.New("t")
	require.NoError(t, c.HSet(context.Background(), ks.Shard(0).Lease(), "holder", "b", "token", "5").Err())
	require.NoError(t, c.PExpire(context.Background(), ks.Shard(0).Lease(), clockTTL).Err())
	clk := newManualClock()
	n := newNode(t, "a", c, ks, Config{TTL: clockTTL, Clock: clk}).start(t)
	tm := n.m.Timings()
	t0 := clk.Now()

	// Held by b for 3s more: the next attempt comes after RetryEvery ±20%.
	at := clk.waitWaiter(t, t0.Add(tm.RetryEvery*8/10), t0.Add(tm.RetryEvery*12/10))
	require.Equal(t, telemetry.RolePassive, n.m.Status()[0].Role)

	// b's lease has only 100ms left: the next attempt is right after it.
	mini.SetTTL(ks.Shard(0).Lease(), 100*time.Millisecond)
	clk.AdvanceTo(at)
	at2 := clk.waitWaiter(t, at.Add(100*time.Millisecond), at.Add(100*time.Millisecond+tm.RetryEvery*12/10/20))

	// Once it is gone, the attempt wins, with a token above b's.
	mini.Del(ks.Shard(0).Lease())
	clk.AdvanceTo(at2)
	s := n.waitStarted(t, 5*time.Second)
	require.Greater(t, s.token, int64(5))
}

func TestPublishedReleaseWakesPassive(t *testing.T) {
	_, c := redistest.Mini(t)
	ks := keys.New("t")
	ctx := context.Background()
	res, err := acquireLease(ctx, c, ks.Shard(0), ownerOf("b"), clockTTL, 0)
	require.NoError(t, err)
	require.True(t, res.Won)
	clk := newManualClock()
	n := newNode(t, "a", c, ks, Config{TTL: clockTTL, Clock: clk}).start(t)
	clk.waitWaiter(t, clk.Now(), clk.Now().Add(time.Hour)) // a is waiting
	eventually(t, 5*time.Second, "a subscribed", func() bool {
		m, err := c.PubSubNumSub(ctx, ks.LeaseReleased()).Result()
		return err == nil && m[ks.LeaseReleased()] == 1
	})
	// b releases: a acquires without its clock moving at all.
	ok, err := releaseLease(ctx, c, ks, ks.Shard(0), ownerOf("b"), res.Token)
	require.NoError(t, err)
	require.True(t, ok)
	s := n.waitStarted(t, 5*time.Second)
	require.Greater(t, s.token, res.Token)
}
