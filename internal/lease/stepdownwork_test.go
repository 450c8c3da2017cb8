package lease

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// A step-down after a pause (the clock jumps past StepDownAfter with no
// renewal) must not delete the lease while this instance's work of the
// shard (OnStarted: the worker's handlers) still runs: a successor would
// start at once and serve the same chats beside it. It is released once
// OnStarted returned, if that is before the key could expire; otherwise it
// is left to expire. Real redis-server; the manager's clock is manual.
func TestStepDownReleasesOnlyAfterWorkReturned(t *testing.T) {
	const ttl = 30 * time.Second // real Redis keeps the key this long in real time
	for _, tc := range []struct {
		name         string
		returnsAt    func(tm Timings) time.Duration // after the acquisition; 0: before the key could expire
		wantReleased bool
	}{
		{name: "work returns before the key could expire", wantReleased: true},
		{name: "work outlives the lease", returnsAt: func(tm Timings) time.Duration { return tm.TTL }, wantReleased: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ns := redistest.Client(t)
			ks := keys.New(ns)
			ctx := context.Background()
			clk := newManualClock()
			n := newNode(t, "a", c, ks, Config{TTL: ttl, Clock: clk})
			unblock := make(chan struct{})
			n.work = func(ctx context.Context, _ int, _ int64) {
				<-ctx.Done()
				<-unblock // a handler still running after the step-down
			}
			n.start(t)
			tm := n.m.Timings()
			t0 := clk.Now()
			s := n.waitStarted(t, 5*time.Second)
			clk.waitWaiter(t, t0.Add(tm.RenewEvery), t0.Add(tm.RenewEvery))

			// The pause: the clock jumps to the step-down deadline, no renewal sent.
			clk.AdvanceTo(t0.Add(tm.StepDownAfter))
			waitDone(t, s.ctx, 5*time.Second, "work context")
			waitEvent(t, n.log, telemetry.EvLeaseLost, map[string]any{telemetry.FToken: s.token})

			// Either the lease is deleted (the bug) or the manager waits on its
			// clock for the work, at most until the key could expire.
			expiry := t0.Add(tm.TTL)
			require.True(t, proctest.Eventually(5*time.Second, 2*time.Millisecond, func() bool {
				info, err := Inspect(ctx, c, ks, 0)
				require.NoError(t, err)
				require.Equal(t, "a", info.Holder, "lease released while the shard's work still runs")
				return slices.Contains(clk.pending(), expiry)
			}), "manager not waiting for the work; pending %v", clk.pending())

			if tc.returnsAt != nil {
				clk.AdvanceTo(t0.Add(tc.returnsAt(tm))) // the key could be gone by now: give up on releasing
			}
			close(unblock)
			st := n.waitStopped(t, 5*time.Second)
			require.True(t, st.workEnded)
			if tc.wantReleased {
				eventually(t, 5*time.Second, "lease released after the work returned", func() bool {
					info, err := Inspect(ctx, c, ks, 0)
					return err == nil && info.Holder == ""
				})
				return
			}
			info, err := Inspect(ctx, c, ks, 0)
			require.NoError(t, err)
			require.Equal(t, "a", info.Holder, "left to expire")
			require.Greater(t, info.TTL, time.Duration(0))
		})
	}
}
