package chaos

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// TestChaos runs every scenario in order; `-run TestChaos/kill9` runs one.
func TestChaos(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.short, func(t *testing.T) { runScenario(t, sc) })
	}
}

// steady is the load of most scenarios: 5 chats of edited messages and 3
// of menus and clicks, each sending one update every 60 ms (about 130 a
// second in all) until the load stops.
func steady(sc scenario) scenario {
	sc.edits, sc.menus, sc.perChat, sc.pace = 5, 3, 0, 60*time.Millisecond
	if sc.instances == 0 {
		sc.instances = 3
	}
	if sc.warm == 0 {
		sc.warm = 3 * time.Second
	}
	if sc.after == 0 {
		sc.after = 4 * time.Second
	}
	return sc
}

// killLeader kills the leader with SIGKILL and, when restart is set, starts
// it again under the same INSTANCE_ID once the successor took over.
func killLeader(restart bool) func(h *harness) { return killHolder(shard0, "the leader", restart, nil) }

// killHolder kills the holder of l (who, in the report) with SIGKILL, once
// before has returned when set, and, when restart is set, starts it again
// under the same INSTANCE_ID once the successor took over.
func killHolder(l lease, who string, restart bool, before func(h *harness, in *proctest.Instance)) func(h *harness) {
	return func(h *harness) {
		leader, token := h.mustHold(l)
		if before != nil {
			before(h, leader)
		}
		h.kill9(leader, "kill -9 of "+who, token)
		next := h.takeover(l, leader, token, 10*time.Second)
		if next == nil {
			h.t.Errorf("no takeover of %s within 10s of kill -9", who)
			return
		}
		h.note("%s killed; %s took over", leader.ID, next.ID)
		if !restart {
			return
		}
		h.sleep(2 * time.Second)
		again := h.start(leader.ID)
		role := "?"
		if r, ok := again.Ready(); ok {
			role = r.Shards["0"].Role
		}
		if role != "PASSIVE" {
			h.t.Errorf("%s restarted as %s, want PASSIVE beside the ACTIVE %s", leader.ID, role, next.ID)
		}
		h.note("%s started again under the same INSTANCE_ID and joined as %s", leader.ID, role)
	}
}

// rollingRestart replaces every instance in turn: start a new one, wait
// until it is ready, SIGTERM an old one and wait for its exit; a SIGTERM of
// the holder of l (who) is a fault whose takeover is measured.
func rollingRestart(l lease, who string) func(h *harness) {
	return func(h *harness) {
		for _, in := range h.live() {
			h.start("")
			holder, token := h.holder(l, 5*time.Second)
			if holder == in {
				h.fault("SIGTERM of the "+who+" "+in.ID, token, false)
			}
			took := h.terminate(in)
			h.note("%s stopped with SIGTERM in %s (%s: %v)", in.ID, took.Round(time.Millisecond), who, holder == in)
		}
	}
}

func scenarios() []scenario {
	all := append(webhookScenarios(), pollScenarios()...)
	return append(all, invariantScenarios()...)
}

func webhookScenarios() []scenario {
	return []scenario{
		steady(scenario{name: "leader kill -9", short: "kill9", fault: killLeader(true),
			title: "Three instances under load; the leader is killed with SIGKILL, then started again under the same INSTANCE_ID."}),

		steady(scenario{name: "leader kill -9, Redis over TLS", short: "tls", redis: tlsRedis, fault: killLeader(false),
			title: "Three instances under load reach a TLS-only redis-server with `rediss://` as an ACL user with a password " +
				"(the server's certificate signed by a CA made for the run, trusted through SSL_CERT_FILE); the leader is " +
				"killed with SIGKILL."}),

		steady(scenario{name: "leader SIGSTOP", short: "sigstop",
			title: "Three instances under load; the leader is paused with SIGSTOP for 5 s (2.5 × LEASE_TTL), then resumed with SIGCONT.",
			fault: func(h *harness) {
				leader, token := h.mustLeader()
				h.fault("SIGSTOP of the leader", token, true)
				leader.Signal(syscall.SIGSTOP)
				next := h.waitTakeover(leader, token, 10*time.Second)
				h.sleep(5 * time.Second)
				leader.Signal(syscall.SIGCONT)
				if next == nil {
					h.t.Error("no takeover while the leader was paused")
					return
				}
				_, lost := leader.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "LEASE_LOST" })
				if !lost {
					h.t.Error("the resumed leader never logged LEASE_LOST")
				}
				rejected := 0
				for _, l := range leader.Lines() {
					if l.Str("reason_code") == "PASSIVE_REJECT" {
						rejected++
					}
				}
				h.note("%s paused 5 s; %s took over; on SIGCONT %s logged LEASE_LOST and left %d updates it held to the successor (PASSIVE_REJECT)",
					leader.ID, next.ID, leader.ID, rejected)
			}}),

		steady(scenario{name: "rolling restart", short: "rolling", warm: 2 * time.Second, after: 3 * time.Second,
			title: "Three instances under load are replaced one after another, as a zero-downtime deploy does: " +
				"start the new instance, wait until it is ready, send SIGTERM to an old one, wait for it to exit.",
			fault: rollingRestart(shard0, "leader")}),

		steady(scenario{name: "Redis restart (AOF)", short: "redis-restart", redis: aofRedis,
			title: "Three instances under load on a redis-server with appendonly yes and appendfsync always; " +
				"redis-server is killed with SIGKILL and started again on the same port and files 2 s later.",
			fault: func(h *harness) {
				_, token := h.mustLeader()
				h.fault("redis-server killed and restarted", token, true)
				killed := time.Now()
				h.srv.Kill()
				h.sleep(2 * time.Second)
				h.fault("redis-server started again", token, false)
				h.srv.Start()
				h.note("redis-server killed, started again 2 s later with its AOF, answering after %s", time.Since(killed).Round(time.Millisecond))
			}}),

		steady(scenario{name: "Redis unreachable 10 s", short: "redis-away", redis: proxiedRedis, after: 5 * time.Second,
			title: "Three instances under load lose Redis for 10 s: every instance's connections are first black-holed " +
				"(5 s: bytes held, calls time out), then refused (5 s: connections reset), then the path is restored.",
			fault: func(h *harness) {
				_, token := h.mustLeader()
				h.fault("Redis unreachable for 10 s", token, true)
				for _, p := range h.proxies {
					p.Stall()
				}
				h.sleep(5 * time.Second)
				for _, p := range h.proxies {
					p.Drop()
				}
				h.sleep(5 * time.Second)
				for _, p := range h.proxies {
					p.Restore()
				}
				h.fault("Redis reachable again", token, false)
				h.note("webhook answered 503 REDIS_UNAVAILABLE %d times meanwhile; the driver resent each until accepted",
					h.count("WEBHOOK_REJECTED", "REDIS_UNAVAILABLE"))
			}}),

		steady(scenario{name: "instance cut off from Redis", short: "partition", redis: proxiedRedis, after: 3 * time.Second,
			title: "Three instances under load; the leader alone loses Redis (its connections black-holed) for 6 s " +
				"while the others keep it, then a PASSIVE instance alone has its connections refused for 4 s.",
			fault: func(h *harness) {
				leader, _, next := h.cutOffLeader(6 * time.Second)
				if next == nil {
					return
				}
				h.note("%s cut off for 6 s; %s took over; %s logged LEASE_LOST: %v", leader.ID, next.ID, leader.ID,
					lastLine(leader, "LEASE_LOST") != nil)
				h.sleep(3 * time.Second)
				cur, token := h.mustLeader()
				var passive *proctest.Instance
				for _, in := range h.others(cur) {
					passive = in
				}
				h.fault("PASSIVE instance "+passive.ID+" cut off", token, false)
				h.proxies[passive].Drop()
				h.sleep(4 * time.Second)
				h.proxies[passive].Restore()
				h.note("%s (PASSIVE) cut off for 4 s; the leader %s kept its lease", passive.ID, cur.ID)
			}}),

		steady(scenario{name: "strangers at the webhook", short: "abuse", fault: abuseFault,
			title: "Three instances under load while strangers post to every instance's webhook: forged updates with no " +
				"or a wrong secret, GETs, 1 MiB + 1 bodies, truncated and deeply nested JSON, 200 KiB headers, and 100 " +
				"connections per instance that never finish their headers. Nothing of theirs may be enqueued."}),

		{name: "handlers slower than HANDLER_TIMEOUT", short: "slow", instances: 2,
			env: map[string]string{"DISPATCHER_FAULTS": "sleep=1s", "HANDLER_TIMEOUT": "250ms", "MAX_DELIVERIES": "2", "WORKERS": "16"},
			title: "Two instances whose every dispatch outlives HANDLER_TIMEOUT (250 ms; DISPATCHER_FAULTS=sleep=1s, " +
				"MAX_DELIVERIES=2) take 40 chats × 2 updates (clicks on old menus among them). Every update must be " +
				"dead-lettered with HANDLER_TIMEOUT, not lost; then the fix is deployed (two healthy instances replace " +
				"them) and `dispatcher dlq replay --all` dispatches every one.",
			edits: 30, clicks: 10, perChat: 2, pace: 100 * time.Millisecond, warm: time.Second,
			finish: func(h *harness) {
				if !proctest.Eventually(60*time.Second, 200*time.Millisecond, func() bool {
					return h.count("DEAD_LETTERED", "") >= len(h.driver.Accepted())
				}) {
					h.t.Errorf("only %d of %d updates dead-lettered within 60s", h.count("DEAD_LETTERED", ""), len(h.driver.Accepted()))
				}
				timeouts := h.count("DISPATCH_FAIL", "")
				slow := h.live()
				for range slow {
					h.start("", "DISPATCHER_FAULTS", "")
				}
				for _, in := range slow {
					h.terminate(in)
				}
				h.replay = h.dlqReplayAll()
				if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
					return h.count("DISPATCH_OK", "") >= len(h.driver.Accepted())
				}) {
					h.t.Errorf("only %d of %d replayed updates dispatched within 30s", h.count("DISPATCH_OK", ""), len(h.driver.Accepted()))
				}
				h.note("%d dispatches failed (HANDLER_TIMEOUT) and %d updates were dead-lettered; two healthy instances "+
					"replaced the slow ones (SIGTERM); `dlq replay --all` replayed %d", timeouts, h.count("DEAD_LETTERED", ""), h.replay)
			}},

		steady(scenario{name: "Bot API 429 and 5xx", short: "botapi", after: 3 * time.Second,
			title: "Three instances under load while the Bot API throttles and fails: for 6 s every 3rd call of each " +
				"method is answered 429 with retry_after=1 and every 5th 500; then for 3 s every call is answered 502.",
			fault: func(h *harness) {
				_, token := h.mustLeader()
				h.fault("Bot API 429 and 500", token, false)
				h.w.Bot.SetFault(func(method string, n int) *fakebot.Fault {
					switch {
					case n%3 == 0:
						return &fakebot.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1, Description: "Too Many Requests: retry after 1"}
					case n%5 == 0:
						return &fakebot.Fault{Status: http.StatusInternalServerError, Description: "Internal Server Error"}
					}
					return nil
				})
				h.sleep(6 * time.Second)
				h.w.Bot.SetFault(func(string, int) *fakebot.Fault {
					return &fakebot.Fault{Status: http.StatusBadGateway, Description: "Bad Gateway"}
				})
				h.sleep(3 * time.Second)
				h.w.Bot.SetFault(nil)
				failed := 0
				for _, c := range h.w.Bot.Calls() {
					if c.Status != http.StatusOK {
						failed++
					}
				}
				h.note("the fake Bot API refused %d calls; %d TELEGRAM_API_ERROR logged; %d dispatches failed and were retried",
					failed, h.count("TELEGRAM_API_ERROR", ""), h.count("DISPATCH_FAIL", ""))
			}}),
	}
}
