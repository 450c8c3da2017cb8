// Package e2e holds the multi-instance tests: several real `dispatcher`
// processes on one real redis-server, Telegram played by the recording fake
// Bot API over HTTP (see internal/testutil/world).
package e2e

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// sampleRoles reads /readyz of every live instance and counts ACTIVE ones.
func sampleRoles(ins []*proctest.Instance) (active int, tokens []int64) {
	for _, in := range ins {
		if in.Exited() {
			continue
		}
		if r, ok := in.Ready(); ok && r.Shards["0"].Role == "ACTIVE" {
			active++
			tokens = append(tokens, r.Shards["0"].Token)
		}
	}
	return active, tokens
}

func TestThreeInstancesExactlyOneActive(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(3, "one")
	require.NotNil(t, e.Active(5*time.Second, ins))
	duration := 30 * time.Second
	if testing.Short() {
		duration = 3 * time.Second
	}
	samples, bad := 0, 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(duration); time.Now().Before(end); <-tick.C {
		n, _ := sampleRoles(ins)
		samples++
		if n != 1 {
			bad++
			t.Errorf("sample %d: %d ACTIVE instances", samples, n)
		}
	}
	t.Logf("%d samples of /readyz on 3 instances over %s: exactly one ACTIVE in every sample", samples, duration)
	require.Zero(t, bad)
}

func TestKill9LeaderIsReplacedWithinTTL(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(3, "kill")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	r, _ := leader.Ready()
	oldToken := r.Shards["0"].Token

	killed := time.Now()
	leader.Signal(syscall.SIGKILL)
	var rest []*proctest.Instance
	for _, in := range ins {
		if in != leader {
			rest = append(rest, in)
		}
	}
	next := e.Active(2*time.Second+time.Second, rest)
	took := time.Since(killed)
	require.NotNil(t, next, "no ACTIVE instance within LEASE_TTL + 1s of kill -9")
	r, _ = next.Ready()
	require.Greater(t, r.Shards["0"].Token, oldToken, "the successor's token is larger")
	t.Logf("kill -9 of %s: %s ACTIVE after %s (LEASE_TTL 2s), token %d → %d", leader.ID, next.ID,
		took.Round(time.Millisecond), oldToken, r.Shards["0"].Token)
}

func TestSIGTERMHandsOverWithinASecond(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(3, "term")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	r, _ := leader.Ready()
	oldToken := r.Shards["0"].Token

	var rest []*proctest.Instance
	for _, in := range ins {
		if in != leader {
			rest = append(rest, in)
		}
	}
	sent := time.Now()
	leader.Signal(syscall.SIGTERM)
	next := e.Active(time.Second, rest)
	took := time.Since(sent)
	require.NotNil(t, next, "no ACTIVE instance within 1s of SIGTERM")
	r, _ = next.Ready()
	require.Greater(t, r.Shards["0"].Token, oldToken)
	code, ok := leader.Wait(10 * time.Second)
	require.True(t, ok, "the stopped instance exits")
	require.Equal(t, 0, code, "the stopped instance exits 0")
	_, released := leader.WaitLine(time.Second, func(l proctest.Line) bool { return l.Name() == "LEASE_RELEASED" })
	require.True(t, released)
	t.Logf("SIGTERM of %s: %s ACTIVE after %s; exit code 0", leader.ID, next.ID, took.Round(time.Millisecond))
}

func TestRedisRestartedEmptyUnderALeader(t *testing.T) {
	srv := redistest.NewServer(t, false)
	e := world.New(t, srv.URL(), nil)
	ins := e.Start(2, "restart")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	r, _ := leader.Ready()
	before := r.Shards["0"].Token

	srv.Kill()
	srv.Start() // empty: no persistence
	back := time.Now()
	var next *proctest.Instance
	var after int64
	ok := proctest.Eventually(2*time.Second+time.Second, 20*time.Millisecond, func() bool {
		// the old leader may answer ACTIVE under its old token until its
		// next renewal finds the lease gone; wait for the new acquisition
		n, tokens := sampleRoles(ins)
		if n == 1 && tokens[0] != before {
			after = tokens[0]
			return true
		}
		return false
	})
	require.True(t, ok, "an ACTIVE instance again within LEASE_TTL + 1s of Redis coming back")
	_ = next
	require.Greater(t, after, before, "tokens never go backwards across a Redis data loss")
	t.Logf("redis restarted empty: ACTIVE again after %s, token %d → %d", time.Since(back).Round(time.Millisecond), before, after)
	for _, in := range ins {
		require.False(t, in.Exited(), "%s exited", in.ID)
	}
}

// TestSIGSTOPLeaderIsFenced pauses the leader longer than the TTL while it
// holds updates, then resumes it: it must log LEASE_LOST, dispatch nothing
// under its old token once the successor has started, and leave what it
// held (PASSIVE_REJECT) to the successor, which dispatches it.
func TestSIGSTOPLeaderIsFenced(t *testing.T) {
	e := world.New(t, "", map[string]string{"DISPATCHER_FAULTS": "sleep=150ms", "WORKERS": "8"})
	ins := e.Start(2, "stop")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	var successor *proctest.Instance
	for _, in := range ins {
		if in != leader {
			successor = in
		}
	}
	r, _ := leader.Ready()
	oldToken := r.Shards["0"].Token

	// 40 updates over 4 chats: the leader holds up to WORKERS of them
	d := world.NewDriver([]*proctest.Instance{successor})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := int64(0); i < 40; i++ {
		wg.Add(1)
		go func(i int64) {
			defer wg.Done()
			_ = d.Send(ctx, 800000+i, world.EditedMessage(800000+i, 9000+i%4))
		}(i)
	}
	wg.Wait()
	_, ok := leader.WaitLine(5*time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_START" })
	require.True(t, ok)

	leader.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	require.NotNil(t, e.Active(2*time.Second+time.Second, []*proctest.Instance{successor}), "successor takes over")
	// the pause itself is what is tested: the leader stays stopped for
	// twice the TTL, whatever happens meanwhile
	time.Sleep(4*time.Second - time.Since(stopped))
	leader.Signal(syscall.SIGCONT)

	_, lost := leader.WaitLine(5*time.Second, func(l proctest.Line) bool { return l.Name() == "LEASE_LOST" })
	require.True(t, lost, "the resumed leader logs LEASE_LOST")
	_, rejectedAny := leader.WaitLine(5*time.Second, func(l proctest.Line) bool { return l.Str("reason_code") == "PASSIVE_REJECT" })
	require.True(t, rejectedAny, "the resumed leader logs PASSIVE_REJECT for what it held")

	// every accepted update is dispatched (OK) by someone
	accepted := d.Accepted()
	require.True(t, proctest.Eventually(20*time.Second, 50*time.Millisecond, func() bool {
		ok := map[int64]bool{}
		for _, l := range world.LinesNamed(e.Cluster.Lines(), "DISPATCH_OK") {
			ok[l.Int("update_id")] = true
		}
		for id := range accepted {
			if !ok[id] {
				return false
			}
		}
		return true
	}), "every accepted update dispatched")

	// no DISPATCH_START under the old token after the successor's first
	var firstSuccessor string
	for _, l := range successor.Lines() {
		if l.Name() == "DISPATCH_START" {
			firstSuccessor = l.Str("ts")
			break
		}
	}
	require.NotEmpty(t, firstSuccessor)
	for _, l := range leader.Lines() {
		if l.Name() == "DISPATCH_START" && l.Int("token") == oldToken {
			require.LessOrEqual(t, l.Str("ts"), firstSuccessor, "old-token DISPATCH_START after the successor started")
		}
	}
	// what the old leader held and rejected was dispatched by the successor
	succOK := map[int64]bool{}
	for _, l := range successor.Lines() {
		if l.Name() == "DISPATCH_OK" {
			succOK[l.Int("update_id")] = true
		}
	}
	rejected := 0
	for _, l := range leader.Lines() {
		if l.Str("reason_code") == "PASSIVE_REJECT" {
			rejected++
			require.True(t, succOK[l.Int("update_id")], "update %d rejected by the old leader not dispatched by the successor", l.Int("update_id"))
		}
	}
	require.Positive(t, rejected)
	t.Logf("SIGSTOP %s for 4s: LEASE_LOST logged, %d held updates PASSIVE_REJECT and dispatched by %s", leader.ID, rejected, successor.ID)
}
