package journal

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/tcpproxy"
)

// TestStalledRedisNeverDelaysTheLogger: the journal's Redis stops
// answering (a partition: its writes time out) while the Logger logs 2,000
// chains; every log call returns at once, what could not be written is
// counted and reported, and once Redis answers again new chains are kept.
func TestStalledRedisNeverDelaysTheLogger(t *testing.T) {
	shared, ns := redistest.Client(t)
	px := tcpproxy.New(t, shared.Options().Addr)
	c := redis.NewClient(&redis.Options{Addr: px.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second,
		WriteTimeout: time.Second, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	in := newInstance(t, Options{Client: c, Keys: keys.New(ns)}, "node-a", telemetry.RoleActive)
	l := chainLoad{ingest: []instance{in}, dispatch: in, users: 10}
	l.run(0, 10, 1000)
	flush(t, in.j)
	require.Zero(t, in.j.Failures())

	px.Stall()
	logged := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		for i := int64(10); i < 2010; i++ {
			l.one(i)
		}
		logged <- time.Since(start)
	}()
	select {
	case d := <-logged:
		t.Logf("2,000 chains (18,000 events) logged in %s while the journal's Redis was stalled", d)
	case <-time.After(30 * time.Second):
		t.Fatal("logging blocked on the stalled journal")
	}
	require.Eventually(t, func() bool { return in.j.Failures() > 0 }, 10*time.Second, 10*time.Millisecond,
		"losses are counted")

	px.Restore()
	require.Eventually(t, func() bool { // the writer's backoff (at most 5 s), then a write that works
		l.one(9000)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.j.Flush(ctx)
		chain, err := in.j.Chain(ctx, l.update(9000).CID)
		return err == nil && len(chain) > 0
	}, 20*time.Second, 200*time.Millisecond, "a chain after the stall")
	ok, err := in.j.Chain(context.Background(), l.update(0).CID)
	require.NoError(t, err)
	require.Len(t, ok, 9, "a chain from before the stall")
	require.NotEmpty(t, in.out.Events(string(telemetry.EvJournalError)))
}
