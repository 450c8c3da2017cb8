package menubot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mymmrac/telego"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/seam"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// event is one decoded log line.
type event map[string]any

func (e event) name() string        { s, _ := e["name"].(string); return s }
func (e event) str(k string) string { s, _ := e[k].(string); return s }

// panel is the last message the bot showed with a keyboard in a chat.
type panel struct {
	msgID   int
	buttons map[string]string // button id ("cat:image") -> callback data
	order   []string
}

const (
	testToken = 7
	userID    = 100200300
	adminID   = 900900900
)

// harness drives the bot through Handle with a real Redis, the fake Bot
// API over real HTTP and a logger writing JSON lines to a buffer.
type harness struct {
	t   *testing.T
	bot *menubot.Bot
	run worker.Handler // bot on the instance's parts, as the worker calls it

	noGuard bool // SILENCE_GUARD=false
	fake    *fakebot.Server
	rc      *redis.Client
	shard   keys.Shard
	logs    *logtest.Buffer
	tg      *telegram.Client

	nextUpdate atomic.Int64
	nextQuery  atomic.Int64

	mu     sync.Mutex
	panels map[int64]panel
	texts  map[int64][]string // chat -> texts sent or edited, in order

	debug   *fakeDebug
	journal *fakeJournal
}

// botConfig is the bot's options; Now, when set, is also the FSM store's
// clock (revisions come from it).
type botConfig = menubot.Options

type harnessOpt func(*botConfig, *harness)

func withClient(c *redis.Client) harnessOpt {
	return func(_ *menubot.Options, h *harness) { h.rc = c }
}

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	rc, ns := redistest.Client(t)
	h := &harness{t: t, fake: fakebot.New(), rc: rc, shard: keys.New(ns).Shard(0), logs: &logtest.Buffer{},
		panels: map[int64]panel{}, texts: map[int64][]string{}, debug: &fakeDebug{}, journal: &fakeJournal{}}
	h.journal.h = h
	h.nextUpdate.Store(800000000)
	srv := httptest.NewServer(http.HandlerFunc(h.serveBotAPI))
	t.Cleanup(srv.Close)
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "test-1", Output: h.logs,
		Secrets: []string{telegram.SandboxToken}})
	require.NoError(t, err)
	tg, err := telegram.New(telegram.Config{Token: telegram.SandboxToken, APIURL: srv.URL, Log: log, NoLimits: true,
		RetryBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	h.tg = tg
	me, err := tg.Bot().GetMe(context.Background()) // the bot learns its username as the server does
	require.NoError(t, err)
	var cfg menubot.Options
	for _, o := range opts {
		o(&cfg, h)
	}
	if cfg.Now != nil {
		cfg.Store = fsm.New(h.rc, 0, fsm.WithClock(cfg.Now))
	}
	h.bot, err = menubot.New(cfg)
	require.NoError(t, err)
	conf := config.Default()
	conf.SilenceGuard = !h.noGuard
	env := &server.BotEnv{Config: &conf, Redis: &redisx.Client{UniversalClient: h.rc}, Keys: keys.New(ns), Log: log,
		Telegram: tg, Username: me.Username, Admins: func(id int64) bool { return id == adminID },
		Valid:   func(int, int64) bool { return true }, // the fence is checked by Redis, against setLease's token
		Journal: h.journal, Debug: h.debug}
	h.run = seam.Adapt(env, h.bot)
	h.setLease(testToken)
	return h
}

// setLease makes token the shard's current fencing token.
func (h *harness) setLease(token int64) {
	h.t.Helper()
	require.NoError(h.t, h.rc.HSet(context.Background(), h.shard.Lease(), "holder", "test-1", "token", token).Err())
}

// serveBotAPI forwards to the fake and remembers every message shown.
func (h *harness) serveBotAPI(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.fake.ServeHTTP(rec, r)
	method := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	if rec.Code == http.StatusOK && (method == "sendMessage" || method == "editMessageText") {
		var resp struct {
			Result struct {
				MessageID int `json:"message_id"`
				Chat      struct {
					ID int64 `json:"id"`
				} `json:"chat"`
				Text        string                       `json:"text"`
				ReplyMarkup *telego.InlineKeyboardMarkup `json:"reply_markup"`
			} `json:"result"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &resp) == nil {
			res := resp.Result
			h.mu.Lock()
			h.texts[res.Chat.ID] = append(h.texts[res.Chat.ID], res.Text)
			if res.ReplyMarkup != nil && len(res.ReplyMarkup.InlineKeyboard) > 0 {
				p := panel{msgID: res.MessageID, buttons: map[string]string{}}
				for _, row := range res.ReplyMarkup.InlineKeyboard {
					for _, b := range row {
						id := buttonID(b.CallbackData)
						p.buttons[id] = b.CallbackData
						p.order = append(p.order, id)
					}
				}
				h.panels[res.Chat.ID] = p
			} else if cur, ok := h.panels[res.Chat.ID]; ok && cur.msgID == res.MessageID {
				delete(h.panels, res.Chat.ID)
			}
			h.mu.Unlock()
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = io.Copy(w, rec.Body)
}

// buttonID strips "v1:" and the tag from callback data.
func buttonID(data string) string {
	s := strings.TrimPrefix(data, "v1:")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	return s
}

// panel returns the last keyboard shown in chat.
func (h *harness) panel(chat int64) panel {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.panels[chat]
	require.True(h.t, ok, "no keyboard shown in chat %d", chat)
	return p
}

// lastText returns the last text the bot sent or edited in chat.
func (h *harness) lastText(chat int64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := h.texts[chat]
	if len(ts) == 0 {
		return ""
	}
	return ts[len(ts)-1]
}

// dispatch runs one update through Handle with the worker's context.
func (h *harness) dispatch(u *update.Update, typ string, user, chat int64) (string, error) {
	cid := telemetry.NewCID()
	ctx := telemetry.WithUpdate(context.Background(), telemetry.Update{CID: cid, UpdateID: u.UpdateID,
		Type: typ, UserID: user, ChatID: chat, Shard: 0})
	ctx = lease.WithFence(ctx, lease.Fence{Shard: h.shard, Token: testToken})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cid, h.run.Handle(ctx, u)
}

// messageUpdate builds a text message update from user in a private chat.
func (h *harness) messageUpdate(user int64, text string) *update.Update {
	id := h.nextUpdate.Add(1)
	raw := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat":{"id":%d,"type":"private","first_name":"U"},"date":1764300000,"text":%q}}`, id, id, user, user, text)
	if strings.HasPrefix(text, "/") {
		n := len(strings.SplitN(text, " ", 2)[0])
		raw = strings.Replace(raw, `"text":`, fmt.Sprintf(`"entities":[{"offset":0,"length":%d,"type":"bot_command"}],"text":`, n), 1)
	}
	return h.parse(raw)
}

// parse decodes an update as the worker does.
func (h *harness) parse(raw string) *update.Update {
	h.t.Helper()
	u, err := update.Parse([]byte(raw))
	require.NoError(h.t, err)
	require.NoError(h.t, u.Incomplete)
	return u
}

// send dispatches a text message from user.
func (h *harness) send(user int64, text string) (string, error) {
	return h.dispatch(h.messageUpdate(user, text), "message", user, user)
}

// callbackUpdate builds a callback query on message msgID (date 0 makes it
// inaccessible, as Telegram sends for old messages).
func (h *harness) callbackUpdate(user int64, data string, msgID int, date int64) (*update.Update, string) {
	id := h.nextUpdate.Add(1)
	qid := fmt.Sprintf("q%d", h.nextQuery.Add(1))
	msg := fmt.Sprintf(`{"message_id":%d,"from":{"id":123456789,"is_bot":true,"first_name":"Dispatcher"},
		"chat":{"id":%d,"type":"private","first_name":"U"},"date":%d,"text":"panel"}`, msgID, user, date)
	if date == 0 {
		msg = fmt.Sprintf(`{"message_id":%d,"chat":{"id":%d,"type":"private","first_name":"U"},"date":0}`, msgID, user)
	}
	raw := fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":%q,"from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat_instance":"-1","data":%q,"message":%s}}`, id, qid, user, data, msg)
	return h.parse(raw), qid
}

// click dispatches a callback with data on message msgID.
func (h *harness) click(user int64, data string, msgID int) (cid, qid string, err error) {
	u, qid := h.callbackUpdate(user, data, msgID, 1764300000)
	cid, err = h.dispatch(u, "callback_query", user, user)
	return cid, qid, err
}

// press clicks the button id ("cat:image") of the chat's current panel.
func (h *harness) press(user int64, id string) (cid, qid string) {
	h.t.Helper()
	p := h.panel(user)
	data, ok := p.buttons[id]
	require.True(h.t, ok, "button %s not on the panel (have %v)", id, p.order)
	cid, qid, err := h.click(user, data, p.msgID)
	require.NoError(h.t, err)
	return cid, qid
}

// events returns the decoded log lines, optionally only those of cid.
func (h *harness) events(cid string) []event {
	var out []event
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if line == "" {
			continue
		}
		var e event
		require.NoError(h.t, json.Unmarshal([]byte(line), &e), "log line is not JSON: %s", line)
		if cid == "" || e.str("cid") == cid {
			out = append(out, e)
		}
	}
	return out
}

// names returns the event names of cid in order.
func (h *harness) names(cid string) []string {
	var out []string
	for _, e := range h.events(cid) {
		out = append(out, e.name())
	}
	return out
}

// find returns the events of cid named name.
func (h *harness) find(cid, name string) []event {
	var out []event
	for _, e := range h.events(cid) {
		if e.name() == name {
			out = append(out, e)
		}
	}
	return out
}

// answers counts successful answerCallbackQuery calls per query id.
func (h *harness) answers() map[string]int {
	out := map[string]int{}
	for _, c := range h.fake.CallsOf("answerCallbackQuery") {
		id, _ := c.Params["callback_query_id"].(string)
		out[id]++
	}
	return out
}

// answerText returns the text the query was answered with.
func (h *harness) answerText(qid string) string {
	for _, c := range h.fake.CallsOf("answerCallbackQuery") {
		if id, _ := c.Params["callback_query_id"].(string); id == qid {
			s, _ := c.Params["text"].(string)
			return s
		}
	}
	return ""
}

// requireAnsweredOnce checks that every query id was answered exactly once.
func (h *harness) requireAnsweredOnce(qids ...string) {
	h.t.Helper()
	got := h.answers()
	for _, q := range qids {
		require.Equal(h.t, 1, got[q], "callback %s answered %d times", q, got[q])
	}
}

// requireChain checks that cid's events contain want in this order (other
// events may sit between them) and that every event of the update carries
// cid and the update's identity.
func (h *harness) requireChain(cid string, want ...string) {
	h.t.Helper()
	got := h.names(cid)
	i := 0
	for _, n := range got {
		if i < len(want) && n == want[i] {
			i++
		}
	}
	require.Equal(h.t, len(want), i, "chain of %s: want %v in order, got %v", cid, want, got)
}

// requireOneCIDPerUpdate checks that all events naming an update_id carry
// one cid, and that different updates have different cids.
func (h *harness) requireOneCIDPerUpdate() {
	h.t.Helper()
	byUpdate := map[float64]string{}
	byCID := map[string]float64{}
	for _, e := range h.events("") {
		uid, ok := e["update_id"].(float64)
		if !ok {
			continue
		}
		cid := e.str("cid")
		require.True(h.t, telemetry.ValidCID(cid), "event %s has cid %q", e.name(), cid)
		if prev, ok := byUpdate[uid]; ok {
			require.Equal(h.t, prev, cid, "update %v has two cids", uid)
		}
		byUpdate[uid] = cid
		if prev, ok := byCID[cid]; ok {
			require.Equal(h.t, prev, uid, "cid %s names two updates", cid)
		}
		byCID[cid] = uid
	}
}

// fakeDebug records EnableDebug calls.
type fakeDebug struct {
	mu    sync.Mutex
	calls []time.Duration
	err   error
}

func (f *fakeDebug) EnableDebug(_ context.Context, d time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return time.Time{}, f.err
	}
	f.calls = append(f.calls, d)
	return time.Date(2026, 11, 28, 12, 30, 0, 0, time.UTC), nil
}

// fakeJournal serves chains from the test's own log buffer; notes are what
// NotKept says of a cid, debugUsers the users put in debug mode.
type fakeJournal struct {
	h          *harness
	mu         sync.Mutex
	notes      map[string]string
	debugUsers []int64
}

func (f *fakeJournal) NotKept(_ context.Context, cid string, _ int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notes[cid], nil
}

func (f *fakeJournal) DebugUser(_ context.Context, user int64, d time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.debugUsers = append(f.debugUsers, user)
	return time.Now().Add(d), nil
}

func (f *fakeJournal) Chain(_ context.Context, cid string) ([]telemetry.JournalEvent, error) {
	var out []telemetry.JournalEvent
	for _, e := range f.h.events(cid) {
		out = append(out, telemetry.JournalEvent(e))
	}
	return out, nil
}

func (f *fakeJournal) LastCIDs(_ context.Context, user int64, n int) ([]string, error) {
	var cids []string
	seen := map[string]bool{}
	evs := f.h.events("")
	for i := len(evs) - 1; i >= 0 && len(cids) < n; i-- {
		e := evs[i]
		if u, _ := e["user_id"].(float64); int64(u) != user {
			continue
		}
		if c := e.str("cid"); c != "" && !seen[c] {
			seen[c] = true
			cids = append(cids, c)
		}
	}
	return cids, nil
}

// dispatchWithin is dispatch with a deadline of d.
func (h *harness) dispatchWithin(u *update.Update, typ string, user int64, d time.Duration) (string, error) {
	cid := telemetry.NewCID()
	ctx := telemetry.WithUpdate(context.Background(), telemetry.Update{CID: cid, UpdateID: u.UpdateID,
		Type: typ, UserID: user, ChatID: user, Shard: 0})
	ctx = lease.WithFence(ctx, lease.Fence{Shard: h.shard, Token: testToken})
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return cid, h.run.Handle(ctx, u)
}

// rev returns the user's FSM revision.
func (h *harness) rev(user int64) int64 {
	h.t.Helper()
	n, err := h.rc.HGet(context.Background(), h.shard.FSM(user, user), "rev").Int64()
	require.NoError(h.t, err)
	return n
}

// step returns a value of the user's FSM state.
func (h *harness) stateValue(user int64, key string) string {
	h.t.Helper()
	raw, err := h.rc.HGet(context.Background(), h.shard.FSM(user, user), "state").Result()
	require.NoError(h.t, err)
	var st struct {
		Screen string            `json:"screen"`
		Values map[string]string `json:"values"`
	}
	require.NoError(h.t, json.Unmarshal([]byte(raw), &st))
	if key == "screen" {
		return st.Screen
	}
	return st.Values[key]
}

// requireRendersRegistered checks every UI_RENDER so far: each button's
// action is registered on the rendered screen.
func (h *harness) requireRendersRegistered() {
	h.t.Helper()
	n := 0
	for _, e := range h.find("", "UI_RENDER") {
		screen := e.str("screen_id")
		ids, _ := e["button_ids"].([]any)
		require.NotEmpty(h.t, ids, "UI_RENDER of %s without buttons", screen)
		for _, id := range ids {
			action := strings.SplitN(id.(string), ":", 2)[0]
			require.True(h.t, ui.Allows(screen, action), "%s rendered on %s", id, screen)
		}
		n++
	}
	require.NotZero(h.t, n)
}
