package debugflag

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// runFlag starts f.Run and stops it at cleanup.
func runFlag(t *testing.T, f *Flag) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestDebugFlagFollowedByEveryInstance: two instances (Logger + watcher)
// on one real Redis switch to debug within 2 s of EnableDebug, and back to
// their configured level within 2 s of the flag's expiry and of
// DisableDebug, logging DEBUG_MODE_CHANGED each time.
func TestDebugFlagFollowedByEveryInstance(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	type node struct {
		log *telemetry.Logger
		out *logtest.Buffer
	}
	var nodes []node
	for _, name := range []string{"node-a", "node-b"} {
		l, out := newTestLogger(t, name)
		runFlag(t, New(c, ks, l))
		nodes = append(nodes, node{l, out})
	}
	admin := New(c, ks, nil) // the /debug panel's side: sets only
	ctx := context.Background()
	all := func(lvl zapcore.Level) func() bool {
		return func() bool {
			for _, n := range nodes {
				if n.log.Level() != lvl {
					return false
				}
			}
			return true
		}
	}

	_, err := admin.EnableDebug(ctx, 0)
	require.ErrorIs(t, err, telemetry.ErrDebugDuration)

	// on, then expiry
	const period = 1500 * time.Millisecond
	start := time.Now()
	until, err := admin.EnableDebug(ctx, period)
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(period), until, time.Second)
	waitFor(t, 2*time.Second, all(zapcore.DebugLevel))
	t.Logf("both instances at debug %s after EnableDebug", time.Since(start).Round(time.Millisecond))
	u, on, err := admin.Until(ctx)
	require.NoError(t, err)
	require.True(t, on)
	require.WithinDuration(t, until, u, time.Second)

	waitFor(t, period+2*time.Second-time.Since(start), all(zapcore.InfoLevel))
	t.Logf("both instances back at info %s after EnableDebug(%s)", time.Since(start).Round(time.Millisecond), period)

	// on, then DisableDebug
	_, err = admin.EnableDebug(ctx, time.Minute)
	require.NoError(t, err)
	waitFor(t, 2*time.Second, all(zapcore.DebugLevel))
	start = time.Now()
	require.NoError(t, admin.DisableDebug(ctx))
	waitFor(t, 2*time.Second, all(zapcore.InfoLevel))
	t.Logf("both instances back at info %s after DisableDebug", time.Since(start).Round(time.Millisecond))
	_, on, err = admin.Until(ctx)
	require.NoError(t, err)
	require.False(t, on)

	for _, n := range nodes {
		out := n.out.String()
		require.Equal(t, 2, strings.Count(out, "name=DEBUG_MODE_CHANGED")-strings.Count(out, "enabled=false"), out)
		require.Equal(t, 2, strings.Count(out, "enabled=false"), out)
		require.Contains(t, out, "enabled=true until=")
	}
	t.Logf("instance log:\n%s", nodes[0].out.String())
}

// TestDebugFlagRedisDown: while Redis does not answer, the level stays and
// REDIS_ERROR is logged once a minute at most.
func TestDebugFlagRedisDown(t *testing.T) {
	l, out := newTestLogger(t, "node-a")
	f := New(redistest.DeadClient(t), keys.New("t"), l)
	f.interval = 5 * time.Millisecond
	var checks atomic.Int64
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.now = func() time.Time { checks.Add(1); return fixed }
	runFlag(t, f)
	waitFor(t, 5*time.Second, func() bool { return checks.Load() >= 10 })
	require.Equal(t, 1, strings.Count(out.String(), "name=REDIS_ERROR"), out.String())
	require.Contains(t, out.String(), "reason_code=REDIS_UNAVAILABLE")
	require.Equal(t, zapcore.InfoLevel, l.Level())
}

func TestDebugFlagRunNeedsLogger(t *testing.T) {
	_, c := redistest.Mini(t)
	require.Error(t, New(c, keys.New("t"), nil).Run(context.Background()))
}

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline above
	}
}

func newTestLogger(t testing.TB, instance string) (*telemetry.Logger, *logtest.Buffer) {
	t.Helper()
	buf := &logtest.Buffer{}
	l, err := telemetry.New(telemetry.Options{Format: telemetry.FormatKV, Level: zapcore.InfoLevel, Instance: instance, Output: buf})
	require.NoError(t, err)
	return l, buf
}
