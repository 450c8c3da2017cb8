package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// scaleTTL is LEASE_TTL of the scale tests.
const scaleTTL = 2 * time.Second

// scaleStatus is the part of `dispatcher status --json` these tests read.
type scaleStatus struct {
	Instances []struct {
		ID string `json:"id"`
	} `json:"instances"`
	Shards []struct {
		Shard  int    `json:"shard"`
		Holder string `json:"holder"`
		Token  int64  `json:"token"`
		Node   string `json:"node"`
		Slot   *int   `json:"slot"`
	} `json:"shards"`
}

// withReadTimeout returns o with its read timeout set to d.
func withReadTimeout(o *redis.Options, d time.Duration) *redis.Options {
	o.ReadTimeout = d
	return o
}

// scaleWorld is a set of dispatcher processes on any Redis topology (env
// names it), with the fake Bot API; tests and benchmarks use it.
type scaleWorld struct {
	tb      testing.TB
	keys    keys.Space
	cluster *proctest.Cluster
}

func newScaleWorld(tb testing.TB, ns string, env map[string]string) *scaleWorld {
	tb.Helper()
	bot := fakebot.New()
	api := httptest.NewServer(bot)
	tb.Cleanup(api.Close)
	base := map[string]string{"REDIS_NAMESPACE": ns, "BOT_TOKEN": world.BotToken, "SANDBOX": "false",
		"TELEGRAM_API_URL": api.URL, "WEBHOOK_SECRET": world.WebhookSecret, "LEASE_TTL": scaleTTL.String(),
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "SHARDS": "6"}
	for k, v := range env {
		base[k] = v
	}
	return &scaleWorld{tb: tb, keys: keys.New(ns), cluster: proctest.NewCluster(tb, base)}
}

func (w *scaleWorld) shards() int {
	n, _ := strconv.Atoi(w.cluster.BaseEnv["SHARDS"])
	return n
}

// start starts the named instances and waits until they are ready.
func (w *scaleWorld) start(ids ...string) []*proctest.Instance {
	var out []*proctest.Instance
	for _, id := range ids {
		out = append(out, w.cluster.Start(id, nil))
	}
	for _, in := range out {
		in.WaitReady(20 * time.Second)
	}
	return out
}

// cli runs a dispatcher command with the world's environment.
func (w *scaleWorld) cli(args ...string) (string, string, int) {
	w.tb.Helper()
	return w.cluster.CLI(args...)
}

// heldShards returns, per live instance among ins, the shards its /readyz says
// it is ACTIVE for.
func heldShards(ins []*proctest.Instance) map[string][]int {
	out := map[string][]int{}
	for _, in := range ins {
		if in.Exited() {
			continue
		}
		r, ok := in.Ready()
		if !ok {
			continue
		}
		for s, st := range r.Shards {
			if st.Role == "ACTIVE" {
				n, _ := strconv.Atoi(s)
				out[in.ID] = append(out[in.ID], n)
			}
		}
		slices.Sort(out[in.ID])
	}
	return out
}

// coversShards reports whether h holds every one of shards exactly once and no
// instance more than most.
func coversShards(h map[string][]int, shards, most int) bool {
	seen := map[int]bool{}
	for _, s := range h {
		if len(s) > most {
			return false
		}
		for _, n := range s {
			if seen[n] {
				return false
			}
			seen[n] = true
		}
	}
	return len(seen) == shards
}

// waitShardSplit waits until the live instances of ins hold every shard once
// and each exactly per of them.
func waitShardSplit(t *testing.T, ins []*proctest.Instance, shards, per int, timeout time.Duration) map[string][]int {
	t.Helper()
	var h map[string][]int
	ok := proctest.Eventually(timeout, 25*time.Millisecond, func() bool {
		h = heldShards(ins)
		if !coversShards(h, shards, per) {
			return false
		}
		for _, in := range ins {
			if !in.Exited() && len(h[in.ID]) != per {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "not %d shards each within %s: %v", per, timeout, h)
	return h
}

// chatTraffic posts updates the way Telegram delivers them: each poster owns
// its chats and posts their updates one at a time, so that a chat's
// updates enter the stream in update_id order.
type chatTraffic struct {
	d      *world.Driver
	next   *atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed atomic.Int64
}

// postChats starts one poster per chat list: each posts count updates
// (0: until Stop) round-robin over its chats, pausing pause between posts.
func postChats(d *world.Driver, next *atomic.Int64, chats [][]int64, count int, pause time.Duration) *chatTraffic {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tr := &chatTraffic{d: d, next: next, cancel: cancel}
	for _, mine := range chats {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for i := 0; count == 0 || i < count; i++ {
				if ctx.Err() != nil {
					return
				}
				id := next.Add(1)
				chat := mine[i%len(mine)]
				if err := d.Send(ctx, id, world.EditedMessage(id, chat)); err != nil {
					if ctx.Err() == nil || count > 0 {
						tr.failed.Add(1) // not when Stop ended an unbounded poster
					}
					return
				}
				if pause > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(pause): // the posting rate
					}
				}
			}
		}()
	}
	return tr
}

// Wait waits for the posters to finish.
func (tr *chatTraffic) Wait() { tr.wg.Wait(); tr.cancel() }

// Stop stops the posters and waits for them.
func (tr *chatTraffic) Stop() { tr.cancel(); tr.wg.Wait() }

// scaleChats splits n chats starting at first into posters lists.
func scaleChats(first int64, posters, perPoster int) [][]int64 {
	out := make([][]int64, posters)
	for p := 0; p < posters; p++ {
		for j := 0; j < perPoster; j++ {
			out[p] = append(out[p], first+int64(p*perPoster+j))
		}
	}
	return out
}

// dispatchedLine is one DISPATCH_OK.
type dispatchedLine struct {
	id, chat, token int64
	shard           int
	at              time.Time
	instance        string
}

// dispatchOKs returns every DISPATCH_OK of the world's instances, oldest
// first.
func dispatchOKs(w *scaleWorld) []dispatchedLine {
	var out []dispatchedLine
	for _, l := range world.LinesNamed(w.cluster.Lines(), "DISPATCH_OK") {
		at, err := time.Parse(time.RFC3339Nano, l.Str("ts"))
		if err != nil {
			continue
		}
		out = append(out, dispatchedLine{id: l.Int("update_id"), chat: l.Int("chat_id"), token: l.Int("token"),
			shard: int(l.Int("shard")), at: at, instance: l.Str("instance")})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// waitAllDispatched waits until every accepted update has a DISPATCH_OK and
// returns the lines.
func waitAllDispatched(t *testing.T, w *scaleWorld, accepted map[int64]string, timeout time.Duration) []dispatchedLine {
	t.Helper()
	var oks []dispatchedLine
	missing := 0
	ok := proctest.Eventually(timeout, 100*time.Millisecond, func() bool {
		oks = dispatchOKs(w)
		seen := make(map[int64]bool, len(oks))
		for _, o := range oks {
			seen[o.id] = true
		}
		missing = 0
		for id := range accepted {
			if !seen[id] {
				missing++
			}
		}
		return missing == 0
	})
	require.True(t, ok, "%d of %d accepted updates not dispatched within %s", missing, len(accepted), timeout)
	return oks
}

// checkChatOrder checks that, in every chat, the first dispatch of each
// update came in update_id order, and returns the chats seen and the
// updates dispatched more than once (redelivered).
func checkChatOrder(t *testing.T, oks []dispatchedLine) (chats, redelivered int) {
	t.Helper()
	first := map[int64]bool{}
	last := map[int64]int64{} // chat -> highest update_id dispatched first so far
	counts := map[int64]int{}
	for _, o := range oks {
		counts[o.id]++
		if first[o.id] {
			continue
		}
		first[o.id] = true
		require.Greater(t, o.id, last[o.chat], "chat %d: update %d dispatched first after %d", o.chat, o.id, last[o.chat])
		last[o.chat] = o.id
	}
	for _, n := range counts {
		if n > 1 {
			redelivered++
		}
	}
	return len(last), redelivered
}

// countScaleLines counts the lines of the world's instances matching f.
func countScaleLines(w *scaleWorld, f func(proctest.Line) bool) int {
	n := 0
	for _, l := range w.cluster.Lines() {
		if f(l) {
			n++
		}
	}
	return n
}

func except(ins []*proctest.Instance, gone ...*proctest.Instance) []*proctest.Instance {
	var out []*proctest.Instance
	for _, in := range ins {
		if !slices.Contains(gone, in) {
			out = append(out, in)
		}
	}
	return out
}

// TestScaleSixShardsShareThreeInstances: with SHARDS=6, instances joining
// one by one while updates flow take their share by release and acquire
// (6, then 3/3, then 2/2/2: each ACTIVE for two shards); a killed
// instance's shards are taken over within LEASE_TTL + 1s; an instance
// stopped with SIGTERM hands its shards over at once; every accepted update
// is dispatched and each chat's updates are first dispatched in order.
func TestScaleSixShardsShareThreeInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	_, ns := redistest.Client(t)
	w := newScaleWorld(t, ns, map[string]string{"REDIS_URL": redistest.URL(t), "DISPATCHER_FAULTS": "sleep=5ms"})
	a := w.start("share-a")[0]
	waitShardSplit(t, []*proctest.Instance{a}, 6, 6, 10*time.Second)

	d := world.NewDriver([]*proctest.Instance{a})
	var next atomic.Int64
	next.Store(7_000_000)
	tr := postChats(d, &next, scaleChats(70_000, 6, 5), 0, 20*time.Millisecond) // about 250 updates/s over 30 chats

	b := w.start("share-b")[0]
	joined := time.Now()
	d.SetTargets([]*proctest.Instance{a, b})
	waitShardSplit(t, []*proctest.Instance{a, b}, 6, 3, 10*time.Second)
	t.Logf("%s joined: 3/3 after %s", b.ID, time.Since(joined).Round(time.Millisecond))
	c := w.start("share-c")[0]
	joined = time.Now()
	ins := []*proctest.Instance{a, b, c}
	d.SetTargets(ins)
	split := waitShardSplit(t, ins, 6, 2, 10*time.Second)
	t.Logf("%s joined: 2/2/2 after %s: %v", c.ID, time.Since(joined).Round(time.Millisecond), split)

	// /readyz of each says ACTIVE for two shards; status agrees and names the node
	var st scaleStatus
	require.True(t, proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		out, stderr, code := w.cli("status", "--json")
		require.Equal(t, 0, code, stderr)
		st = scaleStatus{}
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		got := map[string][]int{}
		for _, s := range st.Shards {
			got[s.Holder] = append(got[s.Holder], s.Shard)
		}
		for k := range got {
			slices.Sort(got[k])
		}
		return len(st.Shards) == 6 && fmt.Sprint(got) == fmt.Sprint(heldShards(ins))
	}), "status agrees with /readyz: %+v", st)
	redisAddr := strings.TrimPrefix(redistest.URL(t), "redis://")
	for _, s := range st.Shards {
		require.Equal(t, redisAddr, s.Node, "shard %d: node", s.Shard)
	}
	table, _, _ := w.cli("status")
	t.Logf("dispatcher status:\n%s", table)

	// steady state: for a second, every sample has each instance at two
	samples := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); samples++ {
		h := heldShards(ins)
		require.True(t, coversShards(h, 6, 2), "sample %d: %v", samples, h)
		time.Sleep(50 * time.Millisecond) // sampling interval
	}

	// kill -9 c: a and b take its shards over within LEASE_TTL + 1s
	gone := heldShards([]*proctest.Instance{c})[c.ID]
	rest := except(ins, c)
	d.SetTargets(rest)
	c.Signal(syscall.SIGKILL)
	killed := time.Now()
	ok := proctest.Eventually(scaleTTL+time.Second, 20*time.Millisecond, func() bool { return coversShards(heldShards(rest), 6, 6) })
	took := time.Since(killed)
	require.True(t, ok, "shards %v of the killed instance not taken over within LEASE_TTL + 1s: %v", gone, heldShards(rest))
	t.Logf("kill -9 of %s (shards %v): taken over after %s (LEASE_TTL %s): %v", c.ID, gone,
		took.Round(time.Millisecond), scaleTTL, heldShards(rest))
	waitShardSplit(t, rest, 6, 3, 10*time.Second)

	// SIGTERM b: it leaves the balance and releases; a takes over at once
	gone = heldShards([]*proctest.Instance{b})[b.ID]
	d.SetTargets([]*proctest.Instance{a})
	b.Signal(syscall.SIGTERM)
	stopped := time.Now()
	ok = proctest.Eventually(scaleTTL, 10*time.Millisecond, func() bool { return coversShards(heldShards([]*proctest.Instance{a}), 6, 6) })
	took = time.Since(stopped)
	require.True(t, ok, "the shards of the stopped instance not taken over before a TTL: %v", heldShards([]*proctest.Instance{a}))
	code, exited := b.Wait(10 * time.Second)
	require.True(t, exited)
	require.Equal(t, 0, code)
	released := 0
	for _, l := range b.Lines() {
		if l.Name() == "LEASE_RELEASED" {
			released++
		}
	}
	require.GreaterOrEqual(t, released, len(gone), "b released its shards")
	t.Logf("SIGTERM of %s (shards %v): %s holds all six after %s", b.ID, gone, a.ID, took.Round(time.Millisecond))

	tr.Stop()
	require.Zero(t, tr.failed.Load())
	accepted := d.Accepted()
	oks := waitAllDispatched(t, w, accepted, 20*time.Second)
	chats, redelivered := checkChatOrder(t, oks)
	cancelled := countScaleLines(w, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_FAIL" && l.Str("error_type") == "CANCELLED"
	})
	rejected := countScaleLines(w, func(l proctest.Line) bool { return l.Str("reason_code") == "PASSIVE_REJECT" })
	t.Logf("%d updates over %d chats accepted and dispatched; first dispatches in update_id order in every chat; "+
		"%d dispatched again (in flight at a move or the kill: %d handlers cancelled by a handover, %d PASSIVE_REJECT)",
		len(accepted), chats, redelivered, cancelled, rejected)
}

// failoverVictim is the Redis master a failover test kills.
type failoverVictim struct {
	desc     string
	shards   []int            // shards whose keys it holds
	master   *redis.Client    // its real address (not the proxy)
	replica  *redis.Client    // the replica that will be promoted
	proxy    *redistest.Proxy // in front of the master
	kill     func()
	promoted func(timeout time.Duration) bool
}

func replOffset(ctx context.Context, c *redis.Client, field string) int64 {
	raw, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(raw, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// runFailover kills the victim master while updates flow and checks that
// nothing is lost; it logs what asynchronous replication lost and what
// covered it.
//
//  1. Updates are posted (phase A) and, once all are accepted, WAIT makes
//     sure the replica has every one of them.
//  2. The replication stream is frozen while the instances keep
//     dispatching and acknowledging: those acks reach the master only.
//  3. The master is killed. Updates keep coming (phase B): the webhook
//     answers 503 until the replica is promoted, the driver resends.
//  4. Every accepted update is dispatched; the updates acknowledged during
//     the freeze are dispatched again (their acks were lost with the
//     master), and the leases of the victim's shards end up under new,
//     larger tokens.
func runFailover(t *testing.T, w *scaleWorld, ins []*proctest.Instance, v failoverVictim) {
	ctx := context.Background()
	tokens := func() map[int]int64 {
		out := map[int]int64{}
		for _, in := range ins {
			if r, ok := in.Ready(); ok {
				for s, st := range r.Shards {
					n, _ := strconv.Atoi(s)
					if st.Role == "ACTIVE" && slices.Contains(v.shards, n) {
						out[n] = st.Token
					}
				}
			}
		}
		return out
	}
	before := tokens()

	// chats on the victim's shards, and a few elsewhere
	q := queue.New(nil, w.keys, queue.Options{Shards: w.shards()})
	var onVictim, elsewhere []int64
	for chat := int64(90_000); len(onVictim) < 16 || (len(elsewhere) < 4 && len(v.shards) < w.shards()); chat++ {
		if slices.Contains(v.shards, q.ShardOf("edited_message", chat, chat, 0)) {
			if len(onVictim) < 16 {
				onVictim = append(onVictim, chat)
			}
		} else if len(elsewhere) < 4 {
			elsewhere = append(elsewhere, chat)
		}
	}
	var posters [][]int64
	for _, c := range append(onVictim, elsewhere...) {
		posters = append(posters, []int64{c})
	}
	d := world.NewDriver(ins)
	var next atomic.Int64
	next.Store(9_000_000)
	postChats(d, &next, posters, 30, 0).Wait() // phase A: 30 updates per chat
	acceptedA := len(d.Accepted())
	n, err := v.master.Do(ctx, "WAIT", 1, 10000).Int64()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the replica has every accepted update before the freeze")

	v.proxy.Freeze()
	frozen := time.Now()
	var inFreeze []dispatchedLine
	proctest.Eventually(3*time.Second, 20*time.Millisecond, func() bool {
		inFreeze = inFreeze[:0]
		for _, o := range dispatchOKs(w) {
			if !o.at.Before(frozen) && slices.Contains(v.shards, o.shard) {
				inFreeze = append(inFreeze, o)
			}
		}
		return len(inFreeze) >= 40
	})
	masterOff, replicaOff := replOffset(ctx, v.master, "master_repl_offset"), replOffset(ctx, v.replica, "slave_repl_offset")
	v.kill()
	killed := time.Now()
	for i := range inFreeze {
		if !inFreeze[i].at.Before(killed) {
			inFreeze = inFreeze[:i]
			break
		}
	}
	require.NotEmpty(t, inFreeze, "updates were dispatched and acknowledged during the freeze")

	phaseB := postChats(d, &next, scaleChats(95_000, 8, 2), 10, 0) // during the failover
	require.True(t, v.promoted(20*time.Second), "replica promoted")
	promoted := time.Since(killed)
	phaseB.Wait()
	require.Zero(t, phaseB.failed.Load(), "every update of phase B accepted after the promotion")
	accepted := d.Accepted()
	oks := waitAllDispatched(t, w, accepted, 40*time.Second)

	// what the failover lost, and what covered it
	redispatched := func(id int64) bool {
		for _, o := range dispatchOKs(w) {
			if o.id == id && o.at.After(killed) {
				return true
			}
		}
		return false
	}
	var notAgain []int64
	require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		notAgain = notAgain[:0]
		for _, o := range inFreeze {
			if !redispatched(o.id) {
				notAgain = append(notAgain, o.id)
			}
		}
		return len(notAgain) == 0
	}), "updates acknowledged during the freeze (acks lost) not dispatched again: %v", notAgain)
	after := tokens()
	for _, s := range v.shards {
		require.Greater(t, after[s], before[s], "shard %d: a new term under a larger token after the failover", s)
	}
	oks = dispatchOKs(w)
	chats, redelivered := checkChatOrder(t, oks)
	lost := countScaleLines(w, func(l proctest.Line) bool { return l.Name() == "LEASE_LOST" })
	renewFailed := countScaleLines(w, func(l proctest.Line) bool { return l.Name() == "LEASE_RENEW_FAILED" })
	rejected := countScaleLines(w, func(l proctest.Line) bool { return l.Str("reason_code") == "PASSIVE_REJECT" })
	t.Logf("failover of %s (shards %v):\n"+
		"  phase A: %d updates accepted; WAIT 1: the replica had all of them\n"+
		"  replication frozen for %s: the master reached offset %d, the replica stayed at %d: %d bytes lost with the master\n"+
		"  lost with them: the acks of %d updates dispatched on the victim's shards during the freeze\n"+
		"  replica promoted %s after the kill; %d updates accepted in total (phase B resent on 503 until then)\n"+
		"  covered by fencing: leases of shards %v: tokens %v -> %v (LEASE_RENEW_FAILED %d, LEASE_LOST %d, PASSIVE_REJECT %d)\n"+
		"  covered by redelivery: all %d lost acks dispatched again by the new terms, which claim pending entries first;\n"+
		"  %d updates dispatched more than once in all; every accepted update dispatched; first dispatches in update_id order in all %d chats",
		v.desc, v.shards, acceptedA, killed.Sub(frozen).Round(time.Millisecond), masterOff, replicaOff, masterOff-replicaOff,
		len(inFreeze), promoted.Round(time.Millisecond), len(accepted), v.shards, before, after, renewFailed, lost, rejected,
		len(inFreeze), redelivered, chats)
}

// TestScaleRedisClusterFailover runs three instances with SHARDS=6 on a
// Redis Cluster of three masters with one replica each (created with
// redis-cli --cluster create), checks the 2/2/2 split and the NODE column
// of status, then kills the master holding the most shards.
func TestScaleRedisClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	// the nodes require an ACL user (the default user has a password nobody is given)
	sec := redistest.NewSecurity(t, false)
	rc := redistest.NewSecureCluster(t, 3, 1, sec)
	ns := redistest.Namespace(t)
	env := sec.Env()
	env["REDIS_CLUSTER_ADDRS"], env["DISPATCHER_FAULTS"] = strings.Join(rc.Seeds(), ","), "sleep=20ms"
	w := newScaleWorld(t, ns, env)
	ins := w.start("cl-a", "cl-b", "cl-c")
	split := waitShardSplit(t, ins, 6, 2, 15*time.Second)
	t.Logf("three instances on Redis Cluster: %v", split)

	ctx := context.Background()
	byNode := map[*redistest.ClusterNode][]int{}
	for s := 0; s < 6; s++ {
		m, err := rc.MasterFor(ctx, w.keys.Shard(s).Lease())
		require.NoError(t, err)
		byNode[m] = append(byNode[m], s)
	}
	out, stderr, code := w.cli("status", "--json")
	require.Equal(t, 0, code, stderr)
	var st scaleStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st.Instances, 3, "status finds the instances on every master")
	for _, s := range st.Shards {
		m, _ := rc.MasterFor(ctx, w.keys.Shard(s.Shard).Lease())
		require.Equal(t, m.Addr(), s.Node, "status names the master of shard %d's slot", s.Shard)
	}
	table, _, _ := w.cli("status")
	t.Logf("dispatcher status:\n%s", table)

	var victim *redistest.ClusterNode
	for m, s := range byNode {
		if victim == nil || len(s) > len(byNode[victim]) {
			victim = m
		}
	}
	replica := rc.ReplicaOf(victim)
	require.NotNil(t, replica)
	master, repl := redis.NewClient(withReadTimeout(victim.Server.Options(), 15*time.Second)), redis.NewClient(replica.Server.Options())
	defer master.Close()
	defer repl.Close()
	runFailover(t, w, ins, failoverVictim{
		desc:   "cluster master " + victim.Addr(),
		shards: byNode[victim], master: master, replica: repl, proxy: victim.Proxy,
		kill:     victim.Kill,
		promoted: func(timeout time.Duration) bool { return replica.WaitRole("master", timeout) },
	})
}

// TestScaleSentinelFailover runs two instances with SHARDS=2 on a master, a
// replica and three Sentinels, and kills the master.
func TestScaleSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	// over TLS only (clients, replication, Sentinels), as an ACL user, with a
	// password on the Sentinels
	sec := redistest.NewSecurity(t, true)
	sn := redistest.NewSecureSentinel(t, 1, 3, sec)
	ns := redistest.Namespace(t)
	env := sec.SentinelEnv()
	env["REDIS_SENTINEL_ADDRS"], env["REDIS_SENTINEL_MASTER"] = strings.Join(sn.Addrs(), ","), redistest.SentinelMaster
	env["SHARDS"], env["DISPATCHER_FAULTS"] = "2", "sleep=20ms"
	w := newScaleWorld(t, ns, env)
	ins := w.start("sn-a", "sn-b")
	split := waitShardSplit(t, ins, 2, 1, 15*time.Second)
	t.Logf("two instances on Sentinel: %v", split)

	out, stderr, code := w.cli("status", "--json")
	require.Equal(t, 0, code, stderr)
	var st scaleStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	for _, s := range st.Shards {
		require.Equal(t, sn.Master.Server.Addr(), s.Node, "status names the Sentinel master")
	}

	master, repl := redis.NewClient(withReadTimeout(sn.Master.Server.Options(), 15*time.Second)), redis.NewClient(sn.Replicas[0].Server.Options())
	defer master.Close()
	defer repl.Close()
	runFailover(t, w, ins, failoverVictim{
		desc:   "Sentinel master " + sn.Master.Server.Addr(),
		shards: []int{0, 1}, master: master, replica: repl, proxy: sn.Master.Proxy,
		kill:     sn.Master.Kill,
		promoted: func(timeout time.Duration) bool { return sn.WaitMaster(sn.Replicas[0].Server.Addr(), timeout) },
	})
	out, _, _ = w.cli("status")
	require.Contains(t, out, sn.Replicas[0].Server.Addr(), "status names the promoted replica")
	t.Logf("dispatcher status after the failover:\n%s", out)
}

// BenchmarkScaleOut measures SHARDS=6 on one, two and three instances
// (handlers sleep 5ms; WORKERS, the default 16) against a dedicated
// redis-server, in two runs of 3,200 updates over 320 chats each:
//
//   - dispatch: the updates are appended to the shard streams directly
//     (queue.Enqueue, the ingest's own Lua call) by 16 goroutines, faster
//     than they are dispatched; figures: throughput from the first append to
//     the last DISPATCH_OK, latency from append to DISPATCH_OK, CPU of the
//     dispatchers and of Redis per update, Redis commands per update;
//   - end to end: the same through the webhook, posted by 32 concurrent
//     clients (one chat at a time each) round-robin over the instances.
//
// Run it with
//
//	go test ./e2e -run '^$' -bench ScaleOut -benchtime 1x
//
// docs/scaling.md holds the figures measured on the project's machine.
func BenchmarkScaleOut(b *testing.B) {
	if testing.Short() {
		b.Skip("multi-process benchmark")
	}
	srv := redistest.NewServer(b, false)
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d, e := runScaleOut(b, srv, n, 3200, 320)
				b.ReportMetric(d.throughput, "dispatch-updates/s")
				b.ReportMetric(float64(d.p50.Microseconds())/1000, "dispatch-p50-ms")
				b.ReportMetric(float64(d.p99.Microseconds())/1000, "dispatch-p99-ms")
				b.ReportMetric(d.cpuPerUpdate, "dispatcher-cpu-us/update")
				b.ReportMetric(d.redisPerUpdate, "redis-cpu-us/update")
				b.ReportMetric(d.cmdsPerUpdate, "redis-cmds/update")
				b.ReportMetric(e.throughput, "e2e-updates/s")
				b.ReportMetric(e.ingest, "ingest-updates/s")
				b.Logf("instances=%d dispatch: %d updates in %s: %.0f/s; append->DISPATCH_OK p50 %s p99 %s; "+
					"dispatcher CPU %.0fµs, Redis CPU %.0fµs, %.1f Redis commands per update",
					n, d.updates, d.elapsed.Round(time.Millisecond), d.throughput, d.p50.Round(time.Millisecond),
					d.p99.Round(time.Millisecond), d.cpuPerUpdate, d.redisPerUpdate, d.cmdsPerUpdate)
				b.Logf("instances=%d dispatch: Redis commands per update: %s", n, d.mix)
				b.Logf("instances=%d end to end (webhook): %d updates in %s: %.0f/s (webhook answered %.0f/s); "+
					"QUEUE_ENQUEUE->DISPATCH_OK p50 %s p99 %s; dispatcher CPU %.0fµs, Redis CPU %.0fµs, %.1f Redis commands per update",
					n, e.updates, e.elapsed.Round(time.Millisecond), e.throughput, e.ingest, e.p50.Round(time.Millisecond),
					e.p99.Round(time.Millisecond), e.cpuPerUpdate, e.redisPerUpdate, e.cmdsPerUpdate)
				b.Logf("instances=%d end to end: Redis commands per update: %s", n, e.mix)
			}
		})
	}
}

// scaleOutResult is one measured run.
type scaleOutResult struct {
	mix                                         string // Redis commands per update, most first
	updates                                     int
	elapsed                                     time.Duration
	throughput, ingest                          float64
	p50, p99                                    time.Duration
	cpuPerUpdate, redisPerUpdate, cmdsPerUpdate float64
}

// scaleMeter reads the CPU time of the instances (from /proc) and of Redis
// (INFO), and Redis's command count.
type scaleMeter struct {
	ins   []*proctest.Instance
	redis *redis.Client
}

type scaleSample struct {
	procCPU, redisCPU float64 // seconds
	cmds              int64
	calls             map[string]int64 // per command (INFO commandstats)
}

func (m scaleMeter) sample(ctx context.Context) scaleSample {
	var s scaleSample
	for _, in := range m.ins {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", in.Pid()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		s.procCPU += (ut + st) / 100 // USER_HZ
	}
	cpu, _ := m.redis.Info(ctx, "cpu").Result()
	stats, _ := m.redis.Info(ctx, "stats").Result()
	cmdstats, _ := m.redis.Info(ctx, "commandstats").Result()
	s.calls = map[string]int64{}
	for _, line := range strings.Split(cpu+"\r\n"+stats+"\r\n"+cmdstats, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if name, ok := strings.CutPrefix(k, "cmdstat_"); ok {
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			s.calls[name], _ = strconv.ParseInt(calls, 10, 64)
			continue
		}
		switch k {
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			s.redisCPU += f
		case "total_commands_processed":
			s.cmds, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return s
}

// finish fills in the per-update figures of r from two samples and the
// latencies.
func (r *scaleOutResult) finish(a, z scaleSample, lat []time.Duration) {
	n := float64(r.updates)
	r.throughput = n / r.elapsed.Seconds()
	r.cpuPerUpdate = (z.procCPU - a.procCPU) / n * 1e6
	r.redisPerUpdate = (z.redisCPU - a.redisCPU) / n * 1e6
	r.cmdsPerUpdate = float64(z.cmds-a.cmds) / n
	type per struct {
		name string
		n    float64
	}
	var mix []per
	for name, calls := range z.calls {
		if d := float64(calls-a.calls[name]) / n; d >= 0.05 {
			mix = append(mix, per{name, d})
		}
	}
	sort.Slice(mix, func(i, j int) bool { return mix[i].n > mix[j].n })
	var parts []string
	for _, p := range mix {
		parts = append(parts, fmt.Sprintf("%s %.2f", p.name, p.n))
	}
	r.mix = strings.Join(parts, ", ")
	slices.Sort(lat)
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
}

// waitOKs waits until every id of want has a DISPATCH_OK and returns the
// first DISPATCH_OK time of each.
func waitOKs(b *testing.B, w *scaleWorld, want map[int64]bool) map[int64]time.Time {
	first := map[int64]time.Time{}
	if !proctest.Eventually(2*time.Minute, 50*time.Millisecond, func() bool {
		for _, o := range dispatchOKs(w) {
			if _, ok := first[o.id]; !ok && want[o.id] {
				first[o.id] = o.at
			}
		}
		return len(first) == len(want)
	}) {
		b.Fatalf("%d of %d updates not dispatched", len(want)-len(first), len(want))
	}
	return first
}

func runScaleOut(b *testing.B, srv *redistest.Server, instances, updates, chats int) (dispatch, e2e scaleOutResult) {
	b.StopTimer()
	ctx := context.Background()
	ns := redistest.Namespace(b)
	w := newScaleWorld(b, ns, map[string]string{"REDIS_URL": srv.URL(), "DISPATCHER_FAULTS": "sleep=5ms", "LEASE_TTL": "5s"})
	var ids []string
	for i := 0; i < instances; i++ {
		ids = append(ids, fmt.Sprintf("bench%d-%d", instances, i))
	}
	ins := w.start(ids...)
	if !proctest.Eventually(30*time.Second, 50*time.Millisecond, func() bool { return coversShards(heldShards(ins), 6, 6/instances) }) {
		b.Fatalf("shards not split %d each: %v", 6/instances, heldShards(ins))
	}
	meter := scaleMeter{ins: ins, redis: srv.Client()}
	q := queue.New(srv.Client(), w.keys, queue.Options{Shards: 6, MaxBacklog: 1_000_000, DedupeWindow: time.Hour})
	base := int64(instances) * 10_000_000

	// dispatch: append directly, faster than dispatch
	b.StartTimer()
	a := meter.sample(ctx)
	appended := make([]time.Time, updates)
	want := map[int64]bool{}
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < updates; i += 16 {
				id, chat := base+int64(i), base+int64(i%chats)
				env := queue.Envelope{CID: fmt.Sprintf("%08x", id%0xffffffff), UpdateID: id, Type: "edited_message",
					ChatID: chat, UserID: chat, Payload: world.EditedMessage(id, chat), Ingest: "bench"}
				env.Shard = q.ShardOf(env.Type, chat, chat, id)
				appended[i] = time.Now()
				if _, err := q.Enqueue(ctx, env); err != nil {
					b.Errorf("enqueue: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < updates; i++ {
		want[base+int64(i)] = true
	}
	first := waitOKs(b, w, want)
	b.StopTimer()
	z := meter.sample(ctx)
	var lat []time.Duration
	var last time.Time
	for i := 0; i < updates; i++ {
		at := first[base+int64(i)]
		lat = append(lat, at.Sub(appended[i]))
		if at.After(last) {
			last = at
		}
	}
	dispatch = scaleOutResult{updates: updates, elapsed: last.Sub(start)}
	dispatch.finish(a, z, lat)

	// end to end: through the webhook
	b.StartTimer()
	a = meter.sample(ctx)
	d := world.NewDriver(ins)
	var next atomic.Int64
	next.Store(base + 5_000_000)
	lists := make([][]int64, 32)
	for c := 0; c < chats; c++ {
		lists[c%32] = append(lists[c%32], base+5_000_000+int64(c))
	}
	start = time.Now()
	postChats(d, &next, lists, updates/32, 0).Wait()
	ingested := time.Since(start)
	want = map[int64]bool{}
	for id := range d.Accepted() {
		want[id] = true
	}
	first = waitOKs(b, w, want)
	b.StopTimer()
	z = meter.sample(ctx)
	enq := map[int64]time.Time{}
	for _, l := range world.LinesNamed(w.cluster.Lines(), "QUEUE_ENQUEUE") {
		if at, err := time.Parse(time.RFC3339Nano, l.Str("ts")); err == nil && want[l.Int("update_id")] {
			enq[l.Int("update_id")] = at
		}
	}
	lat, last = nil, time.Time{}
	for id, at := range first {
		lat = append(lat, at.Sub(enq[id]))
		if at.After(last) {
			last = at
		}
	}
	e2e = scaleOutResult{updates: len(want), elapsed: last.Sub(start), ingest: float64(len(want)) / ingested.Seconds()}
	e2e.finish(a, z, lat)

	for _, in := range ins {
		in.Signal(syscall.SIGTERM)
	}
	for _, in := range ins {
		in.Wait(10 * time.Second)
	}
	return dispatch, e2e
}
