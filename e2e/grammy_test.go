package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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

// grammyDir holds the grammY bot (e2e/testdata/grammybot): bot.js, and
// package.json with package-lock.json pinning grammy; its node_modules is
// installed by `npm ci` on first use and git-ignored.
var grammyDir = filepath.Join("testdata", "grammybot")

var npmOnce struct {
	sync.Once
	err error
}

// needGrammy skips when node is not installed (make test installs Debian's
// nodejs and npm), and installs the bot's packages with `npm ci` when they
// are missing.
func needGrammy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed, so the grammY bot cannot run: `make test` installs Debian's nodejs and npm " +
			"(scripts/test-tools.sh), or: sudo apt-get install -y nodejs npm")
	}
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(grammyDir, "node_modules", "grammy", "package.json")); err == nil {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmOnce.err = fmt.Errorf("node is installed but npm is not (Debian: apt-get install -y npm): %w", err)
			return
		}
		cache, err := os.MkdirTemp("", "grammybot-npm-cache-")
		if err != nil {
			npmOnce.err = err
			return
		}
		defer os.RemoveAll(cache)
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--cache", cache)
		cmd.Dir = grammyDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmOnce.err = fmt.Errorf("npm ci in %s: %w\n%s", grammyDir, err, out)
		}
	})
	require.NoError(t, npmOnce.err)
}

// grammyBot is one running bot.js process.
type grammyBot struct {
	t   *testing.T
	url string // http://127.0.0.1:PORT
	cmd *exec.Cmd
}

type botDelivery struct {
	UpdateID int64   `json:"update_id"`
	Chat     int64   `json:"chat"`
	Text     string  `json:"text"`
	Data     string  `json:"data"`
	CID      string  `json:"cid"`
	Delivery int     `json:"delivery"`
	Token    int64   `json:"token"`
	T        float64 `json:"t"` // wall clock, ms
}

type botCall struct {
	Method      string  `json:"method"`
	OK          bool    `json:"ok"`
	ErrorCode   int     `json:"error_code"`
	Description string  `json:"description"`
	T           float64 `json:"t"`
}

type botState struct {
	Deliveries []botDelivery `json:"deliveries"`
	Calls      []botCall     `json:"calls"`
}

const grammySecret = "grammy-upstream-secret"

func startGrammy(t *testing.T) *grammyBot {
	t.Helper()
	cmd := exec.Command("node", "bot.js")
	cmd.Dir = grammyDir
	cmd.Env = append(os.Environ(), "BOT_TOKEN="+world.BotToken, "UPSTREAM_SECRET="+grammySecret, "PORT=0")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &grammyBot{t: t, url: "http://" + a, cmd: cmd}
	case <-time.After(20 * time.Second):
		t.Fatal("the grammY bot did not report its address within 20s")
	}
	return nil
}

func (b *grammyBot) post(path, body string) {
	b.t.Helper()
	res, err := http.Post(b.url+path, "application/json", strings.NewReader(body))
	require.NoError(b.t, err)
	res.Body.Close()
	require.Equal(b.t, http.StatusOK, res.StatusCode, path)
}

func (b *grammyBot) state() botState {
	b.t.Helper()
	res, err := http.Get(b.url + "/_state")
	require.NoError(b.t, err)
	defer res.Body.Close()
	var s botState
	require.NoError(b.t, json.NewDecoder(res.Body).Decode(&s))
	return s
}

// grammyWorld is three dispatcher instances, each with its own grammY bot
// as its upstream, the bot's apiRoot pointing at that instance.
type grammyWorld struct {
	*world.World
	ins  []*proctest.Instance
	bots map[string]*grammyBot // by instance id
}

func newGrammyWorld(t *testing.T) *grammyWorld {
	needGrammy(t)
	e := world.New(t, "", map[string]string{"UPSTREAM_SECRET": grammySecret, "UPSTREAM_SILENCE_AFTER": "1s",
		"MAX_DELIVERIES": "3"})
	g := &grammyWorld{World: e, bots: map[string]*grammyBot{}}
	for i := 0; i < 3; i++ {
		bot := startGrammy(t)
		in := e.Cluster.Start(fmt.Sprintf("grammy-%d", i), map[string]string{"UPSTREAM_URL": bot.url + "/webhook"})
		bot.post("/_configure", fmt.Sprintf(`{"apiRoot":%q}`, in.URL("")))
		g.ins = append(g.ins, in)
		g.bots[in.ID] = bot
	}
	for _, in := range g.ins {
		in.WaitReady(20 * time.Second)
	}
	return g
}

// deliveries merges what every bot received, in wall-clock order.
func (g *grammyWorld) deliveries() []botDelivery {
	var all []botDelivery
	for _, b := range g.bots {
		all = append(all, b.state().Deliveries...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].T < all[j].T })
	return all
}

func (g *grammyWorld) waitCall(timeout time.Duration, what string, cond func(fakebot.Call) bool) fakebot.Call {
	g.T.Helper()
	var found fakebot.Call
	ok := g.Bot.WaitFor(timeout, func(calls []fakebot.Call) bool {
		for _, c := range calls {
			if cond(c) {
				found = c
				return true
			}
		}
		return false
	})
	require.True(g.T, ok, "Telegram never got %s; calls: %+v", what, g.Bot.Calls())
	return found
}

// waitLine waits for a line of any instance that cond takes (leadership
// may move on a loaded machine: the events are wherever it went).
func (g *grammyWorld) waitLine(timeout time.Duration, what string, cond func(proctest.Line) bool) proctest.Line {
	g.T.Helper()
	var found proctest.Line
	ok := proctest.Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, l := range g.Cluster.Lines() {
			if cond(l) {
				found = l
				return true
			}
		}
		return false
	})
	require.True(g.T, ok, "no line: %s", what)
	return found
}

func (g *grammyWorld) send(d *world.Driver, id int64, body []byte) string {
	g.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(g.T, d.Send(ctx, id, body))
	return d.Accepted()[id]
}

// TestGrammyBotBehindThreeInstances runs a real grammY bot (from npm) as
// the upstream of each of three dispatcher processes on one redis-server,
// and checks forward mode end to end: the inline menu and its callbacks
// through the fenced proxy, a webhook reply, a callback the bot never
// answers, a bot that fails (5xx, retried then dead-lettered), the trace of
// a chain, a frozen leader whose bot's late call is refused with 409, and
// per-chat order across a leader killed with -9.
func TestGrammyBotBehindThreeInstances(t *testing.T) {
	g := newGrammyWorld(t)
	d := world.NewDriver(g.ins)
	leader := g.Active(10*time.Second, g.ins)
	require.NotNil(t, leader)

	t.Run("menu, callback and trace", func(t *testing.T) {
		g.send(d, 1, world.StartMessage(1, 501))
		menu := g.waitCall(15*time.Second, "the menu", func(c fakebot.Call) bool { return c.Method == "sendMessage" && c.Params["text"] == "Menu" })
		require.Contains(t, fmt.Sprint(menu.Params["reply_markup"]), "menu:a")
		var msgID int64
		_, err := fmt.Sscan(fmt.Sprint(menu.Result.(map[string]any)["message_id"]), &msgID)
		require.NoError(t, err)
		cid := g.send(d, 2, world.Callback(2, 501, msgID, "menu:a", "q-menu-a"))
		g.waitCall(15*time.Second, "the callback's answer", func(c fakebot.Call) bool {
			return c.Method == "answerCallbackQuery" && c.Params["text"] == "picked menu:a"
		})
		edit := g.waitCall(15*time.Second, "the edit", func(c fakebot.Call) bool { return c.Method == "editMessageText" })
		require.Equal(t, http.StatusOK, edit.Status)
		// every instance writes its part of the chain to the journal on its
		// own, within moments: wait for the whole chain
		want := []string{"QUEUE_ENQUEUE", "QUEUE_PICK", "DISPATCH_START", "BOT_API_CALL", "ANSWER_CALLBACK_QUERY", "UI_RENDER", "DISPATCH_OK"}
		var out string
		require.True(t, proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
			out, _, _ = g.CLI("trace", cid)
			for _, ev := range want {
				if !strings.Contains(out, ev) {
					return false
				}
			}
			return true
		}), "trace %s, want %v: %s", cid, want, out)
		t.Logf("dispatcher trace %s:\n%s", cid, out)
	})

	t.Run("webhook reply", func(t *testing.T) {
		cid := g.send(d, 3, world.TextMessage(3, 502, "reply"))
		g.waitCall(15*time.Second, "the webhook reply", func(c fakebot.Call) bool {
			return c.Method == "sendMessage" && c.Params["text"] == "echo: webhook reply"
		})
		g.waitLine(10*time.Second, "the webhook reply executed under the update's cid", func(l proctest.Line) bool {
			return l.Name() == "BOT_API_CALL" && l.Str("cid") == cid && l.Str("method") == "sendMessage" && l.Int("status") == 200
		})
	})

	t.Run("callback never answered", func(t *testing.T) {
		cid := g.send(d, 4, world.Callback(4, 503, 100, "silent", "q-silent"))
		ans := g.waitCall(15*time.Second, "the guard's answer", func(c fakebot.Call) bool {
			return c.Method == "answerCallbackQuery" && c.Params["callback_query_id"] == "q-silent"
		})
		require.Nil(t, ans.Params["text"], "the guard answers with no text")
		g.waitLine(10*time.Second, "SILENCE_WARNING for "+cid, func(l proctest.Line) bool { return l.Name() == "SILENCE_WARNING" && l.Str("cid") == cid })
	})

	t.Run("bot fails: retried then dead-lettered", func(t *testing.T) {
		g.send(d, 5, world.TextMessage(5, 504, "fail"))
		g.waitLine(30*time.Second, "dead-lettered after MAX_DELIVERIES=3", func(l proctest.Line) bool { return l.Name() == "DEAD_LETTERED" && l.Int("update_id") == 5 })
		var fails []string
		for _, l := range world.LinesNamed(g.Cluster.Lines(), "DISPATCH_FAIL") {
			if l.Int("update_id") == 5 {
				fails = append(fails, l.Str("error_type"))
			}
		}
		require.Equal(t, []string{"UPSTREAM_STATUS", "UPSTREAM_STATUS", "UPSTREAM_STATUS"}, fails)
		var nums []int
		for _, dl := range g.deliveries() {
			if dl.UpdateID == 5 {
				nums = append(nums, dl.Delivery)
			}
		}
		require.Equal(t, []int{1, 2, 3}, nums, "X-Dispatcher-Delivery counts the deliveries")
		out, _, code := g.CLI("dlq", "list")
		require.Zero(t, code)
		require.Contains(t, out, "UPSTREAM_STATUS")
	})

	t.Run("frozen leader: its bot's late call is refused with 409", func(t *testing.T) {
		cid := g.send(d, 6, world.TextMessage(6, 505, "slow"))
		// the leader is the instance whose bot got the update
		var old *proctest.Instance
		require.True(t, proctest.Eventually(15*time.Second, 20*time.Millisecond, func() bool {
			for _, in := range g.ins {
				for _, dl := range g.bots[in.ID].state().Deliveries {
					if dl.UpdateID == 6 {
						old = in
						return true
					}
				}
			}
			return false
		}), "the leader delivered the slow update to its bot")
		bot := g.bots[old.ID]
		old.Signal(syscall.SIGSTOP)
		var others []*proctest.Instance
		for _, in := range g.ins {
			if in != old {
				others = append(others, in)
			}
		}
		successor := g.Active(15*time.Second, others)
		require.NotNil(t, successor, "another instance took over")
		bot.post("/_release", "{}") // the bot now calls sendMessage on its frozen dispatcher
		old.Signal(syscall.SIGCONT)
		var refused botCall
		require.True(t, proctest.Eventually(15*time.Second, 20*time.Millisecond, func() bool {
			for _, c := range bot.state().Calls {
				if c.Method == "sendMessage" && !c.OK {
					refused = c
					return true
				}
			}
			return false
		}), "the bot's late call got an answer")
		require.Equal(t, 409, refused.ErrorCode)
		require.Equal(t, "Conflict: this dispatcher instance is not ACTIVE for the chat", refused.Description)
		_, ok := old.WaitLine(10*time.Second, func(l proctest.Line) bool {
			return l.Str("reason_code") == "PASSIVE_REJECT" && l.Str("cid") == cid && strings.HasSuffix(l.Name(), "_REJECTED")
		})
		require.True(t, ok, "the update's REJECTED event with PASSIVE_REJECT on the old leader")
		// the successor delivers the update again; its bot's call goes through
		for _, b := range g.bots {
			b.post("/_release", "{}")
		}
		g.waitCall(20*time.Second, "the successor's answer", func(c fakebot.Call) bool {
			return c.Method == "sendMessage" && c.Params["text"] == "late answer"
		})
		require.Len(t, func() (n []fakebot.Call) {
			for _, c := range g.Bot.CallsOf("sendMessage") {
				if c.Params["text"] == "late answer" {
					n = append(n, c)
				}
			}
			return n
		}(), 1, "the refused call never reached Telegram")
	})

	t.Run("per-chat order across a leader kill -9", func(t *testing.T) {
		victim := g.Active(15*time.Second, g.ins)
		require.NotNil(t, victim)
		chats := []int64{601, 602, 603, 604}
		const per = 20
		id := int64(1000)
		var want []int64
		for i := 0; i < per; i++ {
			if i == per/2 {
				victim.Signal(syscall.SIGKILL)
			}
			for _, chat := range chats {
				id++
				g.send(d, id, world.TextMessage(id, chat, fmt.Sprintf("seq %d", i)))
				want = append(want, id)
			}
		}
		var got []botDelivery
		require.True(t, proctest.Eventually(60*time.Second, 100*time.Millisecond, func() bool {
			got = g.deliveries()
			seen := map[int64]bool{}
			for _, dl := range got {
				seen[dl.UpdateID] = true
			}
			for _, w := range want {
				if !seen[w] {
					return false
				}
			}
			return true
		}), "every update reached a bot")
		first := map[int64]bool{}
		last := map[int64]int64{}
		redelivered := 0
		for _, dl := range got {
			if dl.UpdateID <= 1000 {
				continue
			}
			if first[dl.UpdateID] {
				redelivered++
				continue
			}
			first[dl.UpdateID] = true
			require.Greater(t, dl.UpdateID, last[dl.Chat], "chat %d: update %d first delivered after %d", dl.Chat, dl.UpdateID, last[dl.Chat])
			last[dl.Chat] = dl.UpdateID
		}
		t.Logf("%d updates in %d chats, leader %s killed with -9 half-way: every one delivered, in per-chat order (%d delivered again after the takeover)",
			len(want), len(chats), victim.ID, redelivered)
	})
}
