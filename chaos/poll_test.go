package chaos

import (
	"context"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// steadyPoll is the load of the long-polling scenarios: steady's timings,
// but 8 chats clicking a button of an old menu, each one click every 60 ms
// (about 130 a second), queued for getUpdates. Each click is refused as
// expired and answered (answerCallbackQuery, which no rate limit holds
// back); edited messages, the webhook scenarios' cheapest load, are not
// among the allowed_updates.
func steadyPoll(sc scenario) scenario {
	sc = steady(sc)
	sc.poll = true
	sc.edits, sc.menus, sc.clicks = 0, 0, 8
	return sc
}

// stalled is the fault injection of the scenarios that stop a poller
// mid-batch: each poller pauses 300 ms after the first update of every
// batch, so that a fault at that moment finds a batch half appended.
var stalled = map[string]string{"DISPATCHER_FAULTS": "pollstall=300ms"}

func pollScenarios() []scenario {
	return []scenario{
		steadyPoll(scenario{name: "poller kill -9 mid-batch", short: "poll-kill9", env: stalled,
			title: "Three INGEST=poll instances under load (DISPATCHER_FAULTS=pollstall=300ms: each batch pauses after its " +
				"first update); the poller is killed with SIGKILL mid-batch, right after that first update is on the stream.",
			fault: killHolder(pollLease, "the poller mid-batch", false, (*harness).midBatch)}),

		steadyPoll(scenario{name: "poller SIGSTOP past its TTL", short: "poll-sigstop", env: stalled,
			title: "Three INGEST=poll instances under load (pollstall=300ms); the poller is paused with SIGSTOP mid-batch " +
				"for 5 s (2.5 × LEASE_TTL), then resumed: the rest of its batch must be refused by the fence.",
			fault: func(h *harness) {
				p, token := h.mustPoller()
				h.midBatch(p)
				h.fault("SIGSTOP of the poller mid-batch", token, true)
				p.Signal(syscall.SIGSTOP)
				h.paused++
				next := h.waitPollTakeover(p, token, 10*time.Second)
				h.sleep(5 * time.Second)
				p.Signal(syscall.SIGCONT)
				if next == nil {
					h.t.Error("no poller while the poller was paused")
					return
				}
				stop, ok := p.WaitLine(10*time.Second, func(l proctest.Line) bool {
					return l.Name() == "POLL_STOPPED" && l.Int("token") == token
				})
				if !ok || stop.Str("reason_code") != "FENCED" {
					h.t.Errorf("the resumed poller was not fenced: %v", stop)
					return
				}
				h.note("%s paused 5 s mid-batch; %s took over; on SIGCONT %s: POLL_STOPPED reason_code=FENCED (%s)",
					p.ID, next.ID, p.ID, stop.Str("reason_text"))
			}}),

		steadyPoll(scenario{name: "Redis down 5 s, polling", short: "poll-redis", redis: aofRedis,
			title: "Three INGEST=poll instances under load on a redis-server with appendonly yes and appendfsync always; " +
				"redis-server is killed with SIGKILL and started again on the same files 5 s later.",
			fault: func(h *harness) {
				_, token := h.mustPoller()
				h.fault("redis-server killed, polling", token, true)
				h.srv.Kill()
				h.sleep(5 * time.Second)
				h.fault("redis-server started again", token, false)
				h.srv.Start()
				next, _ := h.poller(15 * time.Second)
				if next == nil {
					h.t.Error("nobody polls 15 s after Redis came back")
					return
				}
				h.note("meanwhile the poller logged POLL_BACKOFF %d times (REDIS_UNAVAILABLE) and Telegram kept the updates; %s polls again",
					h.count("POLL_BACKOFF", "REDIS_UNAVAILABLE"), next.ID)
			}}),

		steadyPoll(scenario{name: "webhook set while polling", short: "poll-webhook",
			title: "Three INGEST=poll instances under load; someone sets a webhook for the bot (getUpdates answers 409) " +
				"and 3 s later the operator runs `dispatcher webhook delete`.",
			fault: func(h *harness) {
				_, token := h.mustPoller()
				h.fault("webhook set", token, false)
				if err := h.w.SetWebhook(); err != nil {
					h.t.Fatal(err)
				}
				h.sleep(3 * time.Second)
				if _, stderr, code := h.w.CLI("webhook", "delete"); code != 0 {
					h.t.Errorf("dispatcher webhook delete: exit %d: %s", code, stderr)
				}
				n := h.count("WEBHOOK_CONFLICT", "")
				if n == 0 {
					h.t.Error("no WEBHOOK_CONFLICT while the webhook was set")
				}
				if d := len(h.w.Bot.CallsOf("deleteWebhook")); d != 1 {
					h.t.Errorf("%d deleteWebhook calls, want the operator's one", d)
				}
				h.note("%d WEBHOOK_CONFLICT (each saying to run `dispatcher webhook delete`) before the operator did; "+
					"no instance deleted the webhook", n)
			}}),

		steadyPoll(scenario{name: "Bot API 502 and 429 to getUpdates", short: "poll-botapi",
			title: "Three INGEST=poll instances under load; for 3 s every getUpdates is answered 502, then for 2 s 429 " +
				"with retry_after=1.",
			fault: func(h *harness) {
				_, token := h.mustPoller()
				h.fault("getUpdates 502, then 429", token, false)
				var phase atomic.Int32
				phase.Store(1)
				h.w.Bot.SetFault(func(method string, n int) *fakebot.Fault {
					if method != "getUpdates" {
						return nil
					}
					switch phase.Load() {
					case 1:
						return &fakebot.Fault{Status: http.StatusBadGateway, Description: "Bad Gateway"}
					case 2:
						return &fakebot.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1, Description: "Too Many Requests: retry after 1"}
					}
					return nil
				})
				h.sleep(3 * time.Second)
				phase.Store(2)
				h.sleep(2 * time.Second)
				h.w.Bot.SetFault(nil)
				h.sleep(time.Second) // the call after the last 429
				var prev fakebot.Call
				for _, c := range h.w.Bot.Calls() {
					if c.Method != "getUpdates" {
						continue
					}
					if prev.Status == http.StatusTooManyRequests && c.At.Sub(prev.At) < time.Second {
						h.t.Errorf("getUpdates %s after a 429 with retry_after=1", c.At.Sub(prev.At))
					}
					prev = c
				}
				h.note("%d getUpdates refused; the poller backed off (%d POLL_BACKOFF), never calling again within "+
					"retry_after of a 429", h.refused("getUpdates"), h.count("POLL_BACKOFF", "TELEGRAM_API_ERROR"))
			}}),

		steadyPoll(scenario{name: "rolling restart, polling", short: "poll-rolling", warm: 2 * time.Second, after: 3 * time.Second,
			title: "Three INGEST=poll instances under load are replaced one after another: start the new one, wait until " +
				"it is ready, SIGTERM an old one, wait for it to exit. The poll lease moves at once on each SIGTERM.",
			fault: rollingRestart(pollLease, "poller")}),
	}
}

// poller returns the instance holding the poll lease and its token,
// waiting up to timeout; nil when there is none.
func (h *harness) poller(timeout time.Duration) (*proctest.Instance, int64) {
	return h.holder(pollLease, timeout)
}

// mustPoller returns the current poller or fails the scenario.
func (h *harness) mustPoller() (*proctest.Instance, int64) { return h.mustHold(pollLease) }

// waitPollTakeover waits until an instance other than old polls with a
// token larger than token.
func (h *harness) waitPollTakeover(old *proctest.Instance, token int64, timeout time.Duration) *proctest.Instance {
	return h.takeover(pollLease, old, token, timeout)
}

// midBatch returns once p has appended the first update of a new batch:
// the first QUEUE_ENQUEUE after one of its POLL_BATCH lines, when its
// pollstall pause has just begun.
func (h *harness) midBatch(p *proctest.Instance) {
	h.t.Helper()
	since := time.Now()
	batch, ok := p.WaitLine(10*time.Second, func(l proctest.Line) bool {
		return l.Name() == "POLL_BATCH" && lineTime(l).After(since)
	})
	if !ok {
		h.t.Fatalf("%s ended no batch", p.ID)
	}
	if _, ok := p.WaitLine(10*time.Second, func(l proctest.Line) bool {
		return l.Name() == "QUEUE_ENQUEUE" && lineTime(l).After(lineTime(batch))
	}); !ok {
		h.t.Fatalf("%s began no batch", p.ID)
	}
}

// countPoll counts the lines named name with source=poll.
func (h *harness) countPoll(name string) int {
	n := 0
	for _, l := range world.LinesNamed(h.w.Cluster.Lines(), name) {
		if l.Str("source") == "poll" {
			n++
		}
	}
	return n
}

// refused counts the fake Bot API's refusals of method.
func (h *harness) refused(method string) int {
	n := 0
	for _, c := range h.w.Bot.Calls() {
		if c.Method == method && c.Status != http.StatusOK {
			n++
		}
	}
	return n
}

// pollStats reads the streams' appends and Telegram's record once the
// scenario settled (waiting a little for the last offset to be confirmed).
func (h *harness) pollStats(sent []Sent) *PollStats {
	var last int64
	for _, s := range sent {
		last = max(last, s.UpdateID)
	}
	proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool { return h.w.Bot.Confirmed() > last })
	appends, err := h.w.Appends(context.Background(), 1)
	if err != nil {
		h.t.Errorf("appends: %v", err)
	}
	st := &PollStats{Appends: appends, Confirmed: h.w.Bot.Confirmed(), Last: last, Conflicts: h.w.Bot.Conflicts(),
		Paused: h.paused, Duplicates: h.countPoll("DUPLICATE_UPDATE")}
	h.note("streams: %d appends for %d updates; %d fetched again and dropped as DUPLICATE_UPDATE (a poller stopped "+
		"between their append and its offset); %d getUpdates calls, %d ended by another one while their poller "+
		"waited, %d after it had cancelled them", st.Appends, len(sent),
		st.Duplicates, len(h.w.Bot.CallsOf("getUpdates")), st.Conflicts, h.w.Bot.Abandoned())
	return st
}
