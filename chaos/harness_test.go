package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/tcpproxy"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// Settings every scenario's instances share (world.New adds the Redis,
// Bot API and secret settings).
var baseEnv = map[string]string{
	"LEASE_TTL": "2s", "WORKERS": "8", "SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json",
}

// Where a scenario's Redis runs.
type redisMode int

const (
	sharedRedis  redisMode = iota // the suite's redis-server
	aofRedis                      // a dedicated redis-server with appendonly yes, appendfsync always
	proxiedRedis                  // a dedicated one (AOF too), each instance behind its own tcpproxy
	tlsRedis                      // a dedicated TLS-only one, reached with rediss:// as an ACL user
)

// scenario is one fault under load.
type scenario struct {
	name      string // in the report
	short     string // subtest name and instance prefix
	title     string
	instances int
	env       map[string]string
	redis     redisMode
	// poll: the instances ingest with INGEST=poll, and the load is queued
	// for getUpdates on the fake Bot API instead of posted to the webhook
	poll bool
	// the load: chats of edited messages, of menus and clicks, and of
	// clicks on an old menu; updates per chat (0: until the load stops),
	// one every pace
	edits, menus, clicks int
	starts               int // chats of /start and edits that do not wait for the menu
	perChat              int
	pace                 time.Duration
	warm                 time.Duration // load before the fault
	after                time.Duration // load after the fault
	fault                func(h *harness)
	// finish runs once the load stopped, before the wait for every
	// accepted update to be dispatched.
	finish func(h *harness)
}

// harness is one scenario's run.
type harness struct {
	t       *testing.T
	sc      scenario
	w       *world.World
	srv     *redistest.Server
	proxies map[*proctest.Instance]*tcpproxy.Proxy
	mu      sync.Mutex           // ins: read by the balancer
	ins     []*proctest.Instance // every instance started, in order
	labels  map[*proctest.Instance]string
	expect  map[*proctest.Instance]Expect
	mem     map[*proctest.Instance]*Memory
	load    *load
	faults  []Fault
	notes   []string
	replay  int
	paused  int                // pollers paused (SIGSTOP) by the scenario
	stalled *proctest.Instance // the instance a fault cut off, for its finish
	driver  *world.Driver
	stopLB  chan struct{}
	lbDone  chan struct{}
}

// idBase keeps update_ids and chats distinct between scenarios.
var idBase int64 = 900_000_000

func runScenario(t *testing.T, sc scenario) {
	if !enabled() {
		t.Skip("chaos scenarios run with `make chaos` (or DISPATCHER_CHAOS=1)")
	}
	began := time.Now()
	h := &harness{t: t, sc: sc, proxies: map[*proctest.Instance]*tcpproxy.Proxy{}, labels: map[*proctest.Instance]string{},
		expect: map[*proctest.Instance]Expect{}, mem: map[*proctest.Instance]*Memory{}}
	env := map[string]string{}
	for k, v := range baseEnv {
		env[k] = v
	}
	if sc.poll {
		env["INGEST"], env["POLL_TIMEOUT"] = "poll", "5s"
	}
	for k, v := range sc.env {
		env[k] = v
	}
	url := ""
	switch sc.redis {
	case aofRedis, proxiedRedis:
		h.srv = redistest.NewServer(t, true)
		url = h.srv.URL()
	case tlsRedis:
		srv := redistest.NewTLSServer(t)
		// Go reads SSL_CERT_FILE once per process: this test process and
		// the instances (which inherit it) trust the run's CA
		t.Setenv("SSL_CERT_FILE", srv.CAFile)
		url = srv.URL(srv.User, srv.UserPass)
	}
	h.w = world.New(t, url, env)
	for i := 0; i < sc.instances; i++ {
		h.start("")
	}
	leader, _ := h.leader(10 * time.Second)
	if leader == nil {
		t.Fatal("no ACTIVE instance")
	}
	if sc.poll {
		if p, _ := h.poller(10 * time.Second); p == nil {
			t.Fatal("no instance polls")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h.driver = world.NewDriver(h.live())
	h.balance()
	idBase += 10_000_000
	h.load = newLoad(ctx, h.driver, h.w.Bot, idBase, sc.poll)
	chat := idBase / 1000
	for i := 0; i < sc.edits; i++ {
		chat++
		h.load.edits(chat, sc.perChat, sc.pace)
	}
	for i := 0; i < sc.menus; i++ {
		chat++
		h.load.menus(chat, sc.perChat, sc.pace)
	}
	for i := 0; i < sc.clicks; i++ {
		chat++
		h.load.clicks(chat, sc.perChat, sc.pace)
	}
	for i := 0; i < sc.starts; i++ {
		chat++
		h.load.starts(chat, sc.perChat, sc.pace)
	}
	loadStart := time.Now()
	h.sleep(sc.warm)
	if sc.fault != nil {
		sc.fault(h)
	}
	h.sleep(sc.after)
	h.load.finish()
	loadEnd := time.Now()
	close(h.stopLB)
	<-h.lbDone
	if sc.finish != nil {
		sc.finish(h)
	}

	accepted := map[int64]bool{}
	for id := range h.driver.Accepted() {
		accepted[id] = true
	}
	sent := h.load.Sent()
	if sc.poll { // Telegram holds every update queued for getUpdates
		for _, s := range sent {
			accepted[s.UpdateID] = true
		}
	}
	if !proctest.Eventually(90*time.Second, 200*time.Millisecond, func() bool { return h.settled(sent, accepted) }) {
		t.Log("not every accepted update was dispatched or dead-lettered within 90s")
	}
	h.measureAfter()

	var procs []Proc
	for _, in := range h.ins {
		code, exited := 0, in.Exited()
		if exited {
			code, _ = in.Wait(time.Second) // exited: returns at once (a zero timeout would race the exit)
		}
		procs = append(procs, Proc{ID: h.labels[in], Expect: h.expect[in], Exited: exited, Code: code, Output: in.Output()})
	}
	var mem []Memory
	for _, in := range h.ins {
		if m := h.mem[in]; m != nil && h.expect[in] == ExpectRunning {
			mem = append(mem, *m)
		}
	}
	workers := 8
	_, _ = fmt.Sscan(env["WORKERS"], &workers)
	o := Observation{Sent: sent, Accepted: accepted, Lines: h.w.Cluster.Lines(), Calls: h.w.Bot.Calls(),
		Faults: h.faults, Procs: procs, Memory: mem, Workers: workers, Replayed: h.replay, Start: loadStart, End: loadEnd}
	if sc.poll {
		o.Lease, o.Poll = "poll", h.pollStats(sent)
	}
	r := Check(sc.name, sc.title, o)
	r.Notes = h.notes
	r.Elapsed = time.Since(began)
	record(r)
	t.Logf("%s: sent %d, accepted %d, lost %d, duplicated %d (bound %d), reordered %d, dead-lettered %d, takeovers %v, longest pause %s",
		sc.name, r.Sent, r.Accepted, r.Lost+r.NotAccepted, r.Duplicated, r.DupBound, r.Reordered, r.DeadLettered,
		r.Takeovers, r.LongestPause)
	for _, n := range r.Notes {
		t.Logf("  %s", n)
	}
	for _, v := range r.Failures() {
		t.Errorf("invariant %q: %s", v.Name, v.Detail)
		for i, id := range v.Updates {
			if i == 3 {
				break
			}
			h.explain(id, o)
		}
	}
}

// explain logs every line and Bot API call about one update.
func (h *harness) explain(id int64, o Observation) {
	q := ""
	for _, s := range o.Sent {
		if s.UpdateID == id {
			q = s.QueryID
			h.t.Logf("update %d: %s in chat %d, accepted %v", id, s.Kind, s.Chat, o.Accepted[id])
		}
	}
	for _, l := range o.Lines {
		if l.Int("update_id") == id {
			b, _ := json.Marshal(l)
			h.t.Logf("  %s", b)
		}
	}
	for _, c := range o.Calls {
		if q != "" && fmt.Sprint(c.Params["callback_query_id"]) == q {
			h.t.Logf("  Bot API %s at %s: %d", c.Method, c.At.Format("15:04:05.000"), c.Status)
		}
	}
}

// sleep lets the load run for d: the scenario's timeline, not a wait for a
// condition.
func (h *harness) sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// settled reports whether every accepted update was dispatched or
// dead-lettered.
func (h *harness) settled(sent []Sent, accepted map[int64]bool) bool {
	done := map[int64]bool{}
	for _, l := range h.w.Cluster.Lines() {
		if n := l.Name(); n == "DISPATCH_OK" || n == "DEAD_LETTERED" {
			done[l.Int("update_id")] = true
		}
	}
	for _, s := range sent {
		if accepted[s.UpdateID] && !done[s.UpdateID] {
			return false
		}
	}
	return true
}

// start starts one more instance (named after the scenario, or label when
// set), behind its own proxy in proxiedRedis mode, waits until it is ready
// and takes its memory baseline.
func (h *harness) start(label string, extra ...string) *proctest.Instance {
	h.t.Helper()
	n := len(h.ins)
	id := fmt.Sprintf("%s-%d", h.sc.short, n)
	if label != "" {
		id = label
	}
	env := map[string]string{}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	var p *tcpproxy.Proxy
	if h.sc.redis == proxiedRedis {
		p = tcpproxy.New(h.t, h.srv.Addr())
		env["REDIS_URL"] = "redis://" + p.Addr()
	}
	in := h.w.Cluster.Start(id, env)
	in.WaitReady(30 * time.Second)
	display := id
	for _, other := range h.ins {
		if other.ID == id {
			display = id + " (restarted)"
		}
	}
	h.mu.Lock()
	h.ins = append(h.ins, in)
	h.mu.Unlock()
	h.labels[in] = display
	h.expect[in] = ExpectRunning
	if p != nil {
		h.proxies[in] = p
	}
	m := &Memory{Instance: display}
	if v, err := in.Metrics(); err == nil {
		m.Measured = true
		m.HeapBefore, m.GoroutinesBefore, m.ResidentBefore = v["go_memstats_heap_inuse_bytes"], v["go_goroutines"], v["process_resident_memory_bytes"]
	}
	h.mem[in] = m
	return in
}

// startRefused starts one more instance that must exit at once with code
// (a refused configuration), and returns it and what it said.
func (h *harness) startRefused(label string, code int, extra ...string) (*proctest.Instance, string) {
	h.t.Helper()
	env := map[string]string{}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	if h.sc.redis == proxiedRedis {
		env["REDIS_URL"] = h.srv.URL()
	}
	in := h.w.Cluster.Start(label, env)
	h.mu.Lock()
	h.ins = append(h.ins, in)
	h.mu.Unlock()
	h.labels[in] = label
	h.expect[in] = ExpectExit2
	if code == 1 {
		h.expect[in] = ExpectExit1
	}
	got, exited := in.Wait(20 * time.Second)
	if !exited || got != code {
		h.t.Errorf("%s: expected to exit %d at once, got exited=%v code %d", label, code, exited, got)
	}
	return in, lastOutputLine(in.Output())
}

// lastOutputLine returns the last non-empty line of out.
func lastOutputLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// measureAfter reads every running instance's figures once the load is
// over, waiting up to 20 s for them to come back within the bounds.
func (h *harness) measureAfter() {
	proctest.Eventually(20*time.Second, 250*time.Millisecond, func() bool {
		within := true
		for _, in := range h.ins {
			m := h.mem[in]
			if in.Exited() || m == nil || !m.Measured {
				continue
			}
			v, err := in.Metrics()
			if err != nil {
				within = false
				continue
			}
			m.HeapAfter, m.GoroutinesAfter, m.ResidentAfter = v["go_memstats_heap_inuse_bytes"], v["go_goroutines"], v["process_resident_memory_bytes"]
			if m.HeapAfter > HeapFactor*m.HeapBefore+HeapSlack || m.GoroutinesAfter > m.GoroutinesBefore+GoroutineSlack {
				within = false
			}
		}
		return within
	})
	for _, in := range h.ins {
		if m := h.mem[in]; m != nil && m.Measured && m.HeapAfter == 0 {
			m.Measured = false // never answered after the load
		}
	}
}

// live returns the instances whose process runs.
func (h *harness) live() []*proctest.Instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*proctest.Instance
	for _, in := range h.ins {
		if !in.Exited() {
			out = append(out, in)
		}
	}
	return out
}

// balance keeps the driver's targets to the running processes, as a load
// balancer drops endpoints whose process is gone (a paused process stays:
// it still holds its port).
func (h *harness) balance() {
	h.stopLB, h.lbDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.lbDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stopLB:
				return
			case <-t.C:
			}
			if live := h.live(); len(live) > 0 {
				h.driver.SetTargets(live)
			}
		}
	}()
}

// lease picks a lease out of an instance's /readyz: whether the instance
// holds it, and under which token.
type lease func(r proctest.Readiness) (held bool, token int64)

// shard0 is shard 0's lease; pollLease the poll lease (INGEST=poll).
func shard0(r proctest.Readiness) (bool, int64) {
	return r.Shards["0"].Role == "ACTIVE", r.Shards["0"].Token
}

func pollLease(r proctest.Readiness) (bool, int64) {
	return r.Poll != nil && r.Poll.Role == "ACTIVE", r.Poll.Token
}

// holder returns the running instance that holds l and its token, waiting
// up to timeout; nil when there is none.
func (h *harness) holder(l lease, timeout time.Duration) (*proctest.Instance, int64) {
	var found *proctest.Instance
	var token int64
	proctest.Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, in := range h.live() {
			if r, ok := in.Ready(); ok {
				if held, t := l(r); held {
					found, token = in, t
					return true
				}
			}
		}
		return false
	})
	return found, token
}

// mustHold returns the holder of l or fails the scenario.
func (h *harness) mustHold(l lease) (*proctest.Instance, int64) {
	h.t.Helper()
	in, token := h.holder(l, 10*time.Second)
	if in == nil {
		h.t.Fatal("nobody holds the lease")
	}
	return in, token
}

// takeover waits until an instance other than old holds l with a token
// larger than token.
func (h *harness) takeover(l lease, old *proctest.Instance, token int64, timeout time.Duration) *proctest.Instance {
	var next *proctest.Instance
	proctest.Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, in := range h.others(old) {
			if r, ok := in.Ready(); ok {
				if held, t := l(r); held && t > token {
					next = in
					return true
				}
			}
		}
		return false
	})
	return next
}

// leader returns the instance ACTIVE for shard 0 and its token, waiting up
// to timeout; nil when there is none.
func (h *harness) leader(timeout time.Duration) (*proctest.Instance, int64) {
	return h.holder(shard0, timeout)
}

// others returns the running instances but in.
func (h *harness) others(in *proctest.Instance) []*proctest.Instance {
	var out []*proctest.Instance
	for _, o := range h.live() {
		if o != in {
			out = append(out, o)
		}
	}
	return out
}

func (h *harness) fault(label string, token int64, unclean bool) time.Time {
	at := time.Now()
	h.faults = append(h.faults, Fault{Label: label, At: at, Token: token, Unclean: unclean})
	return at
}

func (h *harness) note(format string, args ...any) {
	h.notes = append(h.notes, fmt.Sprintf(format, args...))
}

// mustLeader returns the current leader or fails the scenario.
func (h *harness) mustLeader() (*proctest.Instance, int64) { return h.mustHold(shard0) }

// waitTakeover waits until an instance other than old is ACTIVE with a
// token larger than token.
func (h *harness) waitTakeover(old *proctest.Instance, token int64, timeout time.Duration) *proctest.Instance {
	return h.takeover(shard0, old, token, timeout)
}

// kill9 kills in with SIGKILL.
func (h *harness) kill9(in *proctest.Instance, label string, token int64) {
	h.fault(label, token, true)
	in.Signal(syscall.SIGKILL)
	h.expect[in] = ExpectKilled
	if _, ok := in.Wait(5 * time.Second); !ok {
		h.t.Fatalf("%s still runs after SIGKILL", in.ID)
	}
}

// terminate stops in with SIGTERM and waits for it to exit.
func (h *harness) terminate(in *proctest.Instance) time.Duration {
	sent := time.Now()
	in.Signal(syscall.SIGTERM)
	h.expect[in] = ExpectExit0
	if _, ok := in.Wait(20 * time.Second); !ok {
		h.t.Errorf("%s did not exit within 20s of SIGTERM", in.ID)
	}
	return time.Since(sent)
}

// lastLine returns the last line of in named name, or nil.
func lastLine(in *proctest.Instance, name string) proctest.Line {
	lines := in.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].Name() == name {
			return lines[i]
		}
	}
	return nil
}

// count returns how many lines of every instance are named name and, when
// reason is set, carry that reason_code.
func (h *harness) count(name, reason string) int {
	n := 0
	for _, l := range h.w.Cluster.Lines() {
		if l.Name() == name && (reason == "" || l.Str("reason_code") == reason) {
			n++
		}
	}
	return n
}

// dlqReplayAll runs `dispatcher dlq replay --all` and returns how many dead
// letters it replayed.
func (h *harness) dlqReplayAll() int {
	out, stderr, code := h.w.CLI("dlq", "replay", "--all")
	if code != 0 {
		h.t.Fatalf("dlq replay --all: exit %d: %s", code, stderr)
	}
	n := 0
	_, _ = fmt.Sscanf(strings.TrimSpace(out), "replayed %d", &n)
	return n
}
