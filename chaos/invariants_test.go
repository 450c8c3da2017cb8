package chaos

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// invariantScenarios are the faults of the delivery invariants (issue 13):
// lost read replies, a drain meeting Bot API failures, handlers that ignore
// their context, long flood waits, a twin INSTANCE_ID, another SHARDS.
func invariantScenarios() []scenario {
	return []scenario{
		steady(scenario{name: "Redis stalls past the read timeout", short: "stall", redis: proxiedRedis,
			env: map[string]string{"LEASE_TTL": "30s", "WORKERS": "64"},
			title: "Three instances under load with LEASE_TTL=30s; the leader's Redis connections are black-holed for 6 s: " +
				"longer than the client's read timeout (2 s), shorter than its step-down (20 s). Reads whose replies are lost " +
				"ran on Redis once the path is back: their entries are this consumer's, and must be found again at once.",
			fault: func(h *harness) {
				leader, token := h.mustLeader()
				h.fault("leader's Redis stalled 6 s", token, false)
				h.proxies[leader].Stall()
				h.sleep(6 * time.Second)
				h.proxies[leader].Restore()
				h.stalled = leader
			},
			finish: func(h *harness) {
				h.waitSettled(60 * time.Second)
				h.note("%s kept its lease: %d LEASE_LOST, %d LEASE_RENEW_FAILED; failed reads logged (at most one a second): %d; "+
					"entries of lost read replies taken back: %d times (whether a read is in flight when the stall begins is timing)",
					h.stalled.ID, h.count("LEASE_LOST", ""), h.count("LEASE_RENEW_FAILED", ""),
					h.countMsg("backing off: read"), h.countMsg("entries of this consumer whose read reply was lost"))
			}}),

		steady(scenario{name: "rolling restart while sendMessage fails", short: "roll-fail", starts: 3, warm: 2 * time.Second,
			title: "Three instances under load, three of whose chats send /start and then edited messages without waiting " +
				"for the menu, are replaced one after another (SIGTERM) while the Bot API answers every sendMessage with 500: " +
				"a /start waits for its retry with the chat's later updates behind it when its instance drains. They must all " +
				"be left to the successor in order, none dispatched ahead of it. Afterwards the shard's group may hold no " +
				"consumer of an instance that is gone.",
			fault: func(h *harness) {
				h.w.Bot.SetFault(func(method string, _ int) *fakebot.Fault {
					if method == "sendMessage" {
						return &fakebot.Fault{Status: http.StatusInternalServerError, Description: "Internal Server Error"}
					}
					return nil
				})
				rollingRestart(shard0, "leader")(h)
				h.w.Bot.SetFault(nil)
			},
			finish: func(h *harness) {
				var cs []string
				var gone []string
				proctest.Eventually(20*time.Second, 200*time.Millisecond, func() bool {
					cs, gone = h.consumers()
					return len(gone) == 0
				})
				if len(gone) > 0 {
					h.t.Errorf("the group keeps consumers of gone instances: %v", gone)
				}
				h.note("%d dispatches failed meanwhile; the group holds %d consumers (%d of gone instances) after 3 restarts",
					h.count("DISPATCH_FAIL", ""), len(cs), len(gone))
			}}),

		{name: "leader cut off while its handlers ignore their context", short: "runaway", instances: 2, redis: proxiedRedis,
			env:   map[string]string{"DISPATCHER_FAULTS": "hang=1s", "HANDLER_TIMEOUT": "5s"},
			edits: 4, menus: 3, pace: 60 * time.Millisecond, warm: 3 * time.Second, after: 4 * time.Second,
			title: "Two instances whose routed handlers ignore their context for 1 s (DISPATCHER_FAULTS=hang=1s) take a steady " +
				"load; the leader's Redis connections are black-holed for 6 s. The cut-off leader steps down, waits at most " +
				"LEASE_TTL/6 for its handlers and abandons the rest (DISPATCH_ABANDONED), all before the successor can win " +
				"the lease and deliver them again.",
			fault: func(h *harness) {
				leader, _, next := h.cutOffLeader(6 * time.Second)
				if next == nil {
					return
				}
				abandoned, late := 0, 0
				for _, l := range leader.Lines() {
					if l.Name() != "DISPATCH_ABANDONED" {
						continue
					}
					abandoned++
					for _, s := range next.Lines() {
						if s.Name() == "DISPATCH_START" && s.Int("update_id") == l.Int("update_id") && !lineTime(l).Before(lineTime(s)) {
							late++
							h.t.Errorf("update %d: abandoned by %s at %s, after %s started it at %s", l.Int("update_id"),
								leader.ID, l.Str("ts"), next.ID, s.Str("ts"))
						}
					}
				}
				h.note("%s cut off for 6 s; %s took over; %s abandoned %d handlers (HANDLER_ABANDONED), %d of them after the successor's start",
					leader.ID, next.ID, leader.ID, abandoned, late)
			}},

		steady(scenario{name: "Bot API flood wait beyond the retry budget", short: "flood", after: 5 * time.Second,
			title: "Three instances under load while, for 3 s, the Bot API answers every sendMessage and editMessageText " +
				"with 429 and retry_after=12, beyond the client's 10 s budget: each such update must be delivered again no " +
				"earlier than 12 s later (the client's limiter holds the chat meanwhile) and none dead-lettered.",
			fault: func(h *harness) {
				h.fault("Bot API 429 retry_after=12", 0, false)
				h.w.Bot.SetFault(func(method string, _ int) *fakebot.Fault {
					if method == "sendMessage" || method == "editMessageText" {
						return &fakebot.Fault{Status: http.StatusTooManyRequests, RetryAfter: 12, Description: "Too Many Requests: retry after 12"}
					}
					return nil
				})
				h.sleep(3 * time.Second)
				h.w.Bot.SetFault(nil)
			},
			finish: func(h *harness) {
				// the refused ones are delivered again 12 s later
				h.waitSettled(60 * time.Second)
				lines := h.w.Cluster.Lines()
				refused, early := 0, 0
				for i, l := range lines {
					if l.Name() != "TELEGRAM_API_ERROR" || l.Int("status") != http.StatusTooManyRequests || l.Int("update_id") == 0 {
						continue
					}
					refused++
					for _, s := range lines[i+1:] {
						if s.Name() == "DISPATCH_START" && s.Int("update_id") == l.Int("update_id") && s.Str("instance") == l.Str("instance") {
							gap := lineTime(s).Sub(lineTime(l))
							if gap < 12*time.Second-50*time.Millisecond {
								early++
								h.t.Errorf("update %d delivered again %s after a 429 with retry_after=12", l.Int("update_id"), gap)
							}
							break
						}
					}
				}
				h.note("%d Bot API calls of dispatches refused with 429 (TELEGRAM_API_ERROR with retry_after=12: %d), %d of their updates delivered again earlier than 12 s; %d dead-lettered",
					refused, h.countField("TELEGRAM_API_ERROR", "retry_after", 12), early, h.count("DEAD_LETTERED", ""))
			}}),

		steady(scenario{name: "a twin under the same INSTANCE_ID", short: "twin",
			title: "Three instances under load; the leader is paused (SIGSTOP) until its heartbeat and lease expire, a new " +
				"process is started under its INSTANCE_ID, then the old one is resumed. It must find its id taken, stop " +
				"dispatching and exit 1 with one line saying why, without taking any lease back.",
			fault: func(h *harness) {
				leader, token := h.mustLeader()
				h.fault("SIGSTOP of the leader, a twin under its INSTANCE_ID", token, true)
				leader.Signal(syscall.SIGSTOP)
				next := h.waitTakeover(leader, token, 10*time.Second)
				gone := proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
					n, err := h.w.Redis.Exists(context.Background(), h.w.Keys.Instance(leader.ID)).Result()
					return err == nil && n == 0
				})
				if next == nil || !gone {
					h.t.Errorf("after the pause: takeover %v, heartbeat expired %v", next != nil, gone)
				}
				twin := h.start(leader.ID)
				h.expect[leader] = ExpectExit1
				leader.Signal(syscall.SIGCONT)
				code, exited := leader.Wait(15 * time.Second)
				retook := 0
				for _, l := range leader.Lines() {
					if l.Name() == "LEASE_ACQUIRED" && l.Int("token") > token {
						retook++
					}
				}
				if retook > 0 {
					h.t.Errorf("the woken twin acquired %d leases", retook)
				}
				h.note("%s resumed beside the new %s: exited=%v code %d, %q; leases it took after waking: %d",
					leader.ID, twin.ID, exited, code, lastOutputLine(leader.Output()), retook)
			}}),

		steady(scenario{name: "an instance started with another SHARDS", short: "shards",
			title: "Three instances under load with SHARDS=1 (recorded in Redis by the first); a fourth is started with " +
				"SHARDS=2. It must exit 2 naming SHARDS and both values, and the others go on.",
			fault: func(h *harness) {
				_, line := h.startRefused("other-shards", 2, "SHARDS", "2")
				if !strings.Contains(line, "SHARDS: this instance has 2, but namespace") || !strings.Contains(line, "records 1") {
					h.t.Errorf("the refusal does not name SHARDS and both values: %q", line)
				}
				h.note("the instance with SHARDS=2 exited 2: %q", line)
			}}),
	}
}

// cutOffLeader black-holes the leader's Redis connections for d (its proxy
// stalls), waits for a takeover meanwhile and restores the path. next is the
// instance that took over, nil (an error of the scenario) when none did.
func (h *harness) cutOffLeader(d time.Duration) (leader *proctest.Instance, token int64, next *proctest.Instance) {
	leader, token = h.mustLeader()
	h.fault("leader cut off from Redis", token, true)
	h.proxies[leader].Stall()
	next = h.waitTakeover(leader, token, 10*time.Second)
	h.sleep(d)
	h.proxies[leader].Restore()
	if next == nil {
		h.t.Error("no takeover while the leader was cut off")
	}
	return leader, token, next
}

// consumers returns shard 0's consumers and those of them that belong to
// no running instance.
func (h *harness) consumers() (all, gone []string) {
	cs, err := h.w.Redis.XInfoConsumers(context.Background(), h.w.Keys.Shard(0).Stream(), keys.Group).Result()
	if err != nil {
		return nil, []string{"XINFO CONSUMERS: " + err.Error()}
	}
	live := map[string]bool{}
	for _, in := range h.live() {
		live[in.ID] = true
	}
	for _, c := range cs {
		all = append(all, c.Name)
		if !live[c.Name] {
			gone = append(gone, c.Name)
		}
	}
	return all, gone
}

// waitSettled waits up to timeout until every accepted update was
// dispatched or dead-lettered (for a finish that looks at the outcome).
func (h *harness) waitSettled(timeout time.Duration) {
	accepted := map[int64]bool{}
	for id := range h.driver.Accepted() {
		accepted[id] = true
	}
	proctest.Eventually(timeout, 200*time.Millisecond, func() bool { return h.settled(h.load.Sent(), accepted) })
}

// countMsg counts the lines of every instance whose msg contains s.
func (h *harness) countMsg(s string) int {
	n := 0
	for _, l := range h.w.Cluster.Lines() {
		if strings.Contains(l.Str("msg"), s) {
			n++
		}
	}
	return n
}

// countField counts the lines named name whose field key is v.
func (h *harness) countField(name, key string, v int64) int {
	n := 0
	for _, l := range h.w.Cluster.Lines() {
		if l.Name() == name && l.Int(key) == v {
			n++
		}
	}
	return n
}
