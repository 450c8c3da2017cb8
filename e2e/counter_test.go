package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// counterWorld runs examples/counter (a bot of the public API, built here
// like the dispatcher binary) instead of the reference bot.
func counterWorld(t *testing.T) *world.World {
	e := world.New(t, "", nil)
	e.Cluster.Bin = proctest.BuildPackage(t, "./examples/counter")
	return e
}

// sentTo returns the texts the bot sent to chat (sendMessage) and answered
// (answerCallbackQuery, for every chat), in the order the fake got them.
func sentTo(bot *fakebot.Server, chat int64) []string {
	var out []string
	for _, c := range bot.CallsOf("sendMessage") {
		if c.Chat() == strconv.FormatInt(chat, 10) {
			out = append(out, fmt.Sprint(c.Params["text"]))
		}
	}
	return out
}

// The counter's FSM and buttons work across three instances: /start with
// its button, a press, /name and the text that names it, each update on
// whichever instance the webhook request reached.
func TestCounterExampleFlowOnThreeInstances(t *testing.T) {
	e := counterWorld(t)
	ins := e.Start(3, "cnt")
	require.NotNil(t, e.Active(5*time.Second, ins))
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const chat = 7001
	require.NoError(t, d.Send(ctx, 1, world.TextMessage(1, chat, "/start")))
	require.True(t, e.Bot.WaitFor(10*time.Second, func([]fakebot.Call) bool { return len(sentTo(e.Bot, chat)) == 1 }))
	msgID, data, ok := e.Bot.CallsOf("sendMessage")[0].Menu()
	require.True(t, ok, "the counter has a +1 button")
	require.Equal(t, "v1:inc:1", data)
	require.NoError(t, d.Send(ctx, 2, world.Callback(2, chat, msgID, data, "q-2")))
	require.NoError(t, d.Send(ctx, 3, world.TextMessage(3, chat, "/name")))
	require.NoError(t, d.Send(ctx, 4, world.TextMessage(4, chat, "Jar")))
	require.NoError(t, d.Send(ctx, 5, world.TextMessage(5, chat, "/start")))
	require.True(t, e.Bot.WaitFor(10*time.Second, func([]fakebot.Call) bool { return len(sentTo(e.Bot, chat)) == 4 }),
		"sent: %q", sentTo(e.Bot, chat))
	require.Equal(t, []string{"Counter: 0", "What is this counter called?", "Named Jar. /start shows it.", "Jar: 1"}, sentTo(e.Bot, chat))
	answers := e.Bot.CallsOf("answerCallbackQuery")
	require.Len(t, answers, 1, "the press is answered once")
	require.Equal(t, "count=1 (+1)", answers[0].Params["text"])

	// the event chain of the press, as the reference bot logs it
	cid := d.Accepted()[2]
	require.NotEmpty(t, cid)
	var chain []string
	for _, l := range e.Cluster.Lines() {
		if l.Str("cid") == cid {
			chain = append(chain, l.Name())
		}
	}
	requireSubsequence(t, chain, "CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY", "DISPATCH_OK")
	t.Logf("chain of the press (cid %s): %s", cid, strings.Join(chain, " → "))
}

// Per-chat order and exactly-once under kill -9 of the leader: four chats
// each press "+k" for k = 1..N in order (button data inc:k; callback
// answers are not held back by Telegram's one message per second per
// chat) while the leader is killed; the chat's log (written by the bot's
// fenced script) must be 1..N, each once, the answers in order, and the
// successor must hold the shard within LEASE_TTL + 1s.
func TestCounterExampleOrderAndFailover(t *testing.T) {
	e := counterWorld(t)
	ins := e.Start(3, "cnt")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	r, _ := leader.Ready()
	oldToken := r.Shards["0"].Token

	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	chats := []int64{8001, 8002, 8003, 8004}
	const perChat = 40
	killAt := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, len(chats))
	for ci, chat := range chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= perChat; k++ {
				id := int64(ci*1000 + k)
				body := world.Callback(id, chat, 1, "v1:inc:"+strconv.Itoa(k), fmt.Sprintf("q-%d-%d", chat, k))
				if err := d.Send(ctx, id, body); err != nil {
					errs <- err
					return
				}
				if k == perChat/2 {
					killOnce.Do(func() { close(killAt) })
				}
			}
		}()
	}
	<-killAt
	killed := time.Now()
	leader.Signal(syscall.SIGKILL)
	var rest []*proctest.Instance
	for _, in := range ins {
		if in != leader {
			rest = append(rest, in)
		}
	}
	d.SetTargets(rest)
	next := e.Active(2*time.Second+time.Second, rest)
	require.NotNil(t, next, "no ACTIVE instance within LEASE_TTL + 1s of kill -9")
	took := time.Since(killed)
	r, _ = next.Ready()
	require.Greater(t, r.Shards["0"].Token, oldToken)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	want := make([]string, perChat)
	for k := range want {
		want[k] = strconv.Itoa(k + 1)
	}
	for _, chat := range chats {
		key := e.Keys.Shard(0).App("log:" + strconv.FormatInt(chat, 10))
		var got []string
		ok := proctest.Eventually(30*time.Second, 50*time.Millisecond, func() bool {
			got, _ = e.Redis.LRange(context.Background(), key, 0, -1).Result()
			return len(got) >= perChat
		})
		require.True(t, ok, "chat %d: %d of %d additions: %v", chat, len(got), perChat, got)
		require.Equal(t, want, got, "chat %d: every addition once, in the order sent", chat)
		count, err := e.Redis.Get(context.Background(), e.Keys.Shard(0).App("count:"+strconv.FormatInt(chat, 10))).Int()
		require.NoError(t, err)
		require.Equal(t, perChat*(perChat+1)/2, count)
	}
	// the answers, per chat in the order pressed (a press redelivered after
	// the kill may be answered twice: once by each instance)
	require.True(t, e.Bot.WaitFor(10*time.Second, func([]fakebot.Call) bool {
		return len(e.Bot.CallsOf("answerCallbackQuery")) >= len(chats)*perChat
	}))
	last := map[string]int{}
	for _, a := range e.Bot.CallsOf("answerCallbackQuery") {
		var chat string
		var k int
		_, err := fmt.Sscanf(strings.ReplaceAll(fmt.Sprint(a.Params["callback_query_id"]), "-", " "), "q %s %d", &chat, &k)
		require.NoError(t, err)
		require.GreaterOrEqual(t, k, last[chat], "chat %s: press %d answered after press %d", chat, k, last[chat])
		last[chat] = k
		var total, plus int
		_, err = fmt.Sscanf(fmt.Sprint(a.Params["text"]), "count=%d (+%d)", &total, &plus)
		require.NoError(t, err)
		require.Equal(t, k, plus)
		require.Equal(t, k*(k+1)/2, total, "the count after press %d", k)
	}
	redelivered := 0
	for _, l := range e.Cluster.Lines() {
		if l.Name() == "QUEUE_PICK" && l.Int("delivery") > 1 {
			redelivered++
		}
	}
	t.Logf("kill -9 of %s after %d presses per chat: %s ACTIVE after %s (LEASE_TTL 2s), token %d → %d; "+
		"%d chats × %d presses each applied once in order, answers in order; %d redeliveries; webhook answers %v",
		leader.ID, perChat/2, next.ID, took.Round(time.Millisecond), oldToken, r.Shards["0"].Token,
		len(chats), perChat, redelivered, d.Answers())
}

// requireSubsequence checks that want appear in got in this order.
func requireSubsequence(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	require.Equal(t, len(want), i, "chain %q lacks %q in order", got, want)
}
