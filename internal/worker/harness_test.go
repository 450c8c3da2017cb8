package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lines is the pool's log.
type lines struct{ logtest.Buffer }

// events returns the logged events, oldest first, optionally only those
// named.
func (l *lines) events(names ...string) []map[string]any { return l.Events(names...) }

// count counts events named name about update uid (any update when uid is 0).
func (l *lines) count(name string, uid int64) int {
	n := 0
	for _, ev := range l.events(name) {
		if uid == 0 || num(ev["update_id"]) == uid {
			n++
		}
	}
	return n
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// leader is a fake Leadership: valid while the token is the one set.
type leader struct {
	mu     sync.Mutex
	tokens map[int]int64
}

func (l *leader) set(shard int, token int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tokens == nil {
		l.tokens = map[int]int64{}
	}
	l.tokens[shard] = token
}

func (l *leader) Valid(shard int, token int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tokens[shard] == token
}

// harness is one pool on a fresh namespace of a real Redis.
type harness struct {
	t      *testing.T
	c      *redis.Client
	ks     keys.Space
	q      *queue.Queue
	log    *lines
	m      *metrics.Metrics
	leader *leader
	pool   *Pool
	cfg    Config
}

// newHarness builds a pool with fast test timings; tweak adjusts the config.
func newHarness(t *testing.T, c *redis.Client, ns string, shards int, h Handler, tweak func(*Config)) *harness {
	t.Helper()
	out := &lines{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Output: out, Instance: "w1"})
	require.NoError(t, err)
	ks := keys.New(ns)
	hs := &harness{t: t, c: c, ks: ks, log: out, m: metrics.NewTest(), leader: &leader{},
		q: queue.New(c, ks, queue.Options{Shards: shards, DedupeWindow: time.Minute})}
	hs.cfg = Config{Queue: hs.q, Leadership: hs.leader, Handler: h, Log: log, Metrics: hs.m, Instance: "w1",
		Workers: 4, MaxDeliveries: 3, HandlerTimeout: 2 * time.Second, RetryBackoff: 5 * time.Millisecond,
		RetryBackoffMax: 50 * time.Millisecond, Block: 100 * time.Millisecond, RedisBackoff: 5 * time.Millisecond,
		RedisBackoffMax: 100 * time.Millisecond, WriteTimeout: time.Second}
	if tweak != nil {
		tweak(&hs.cfg) // may replace the queue (other queue options)
	}
	hs.q = hs.cfg.Queue
	hs.pool, err = New(hs.cfg)
	require.NoError(t, err)
	t.Cleanup(hs.pool.Close)
	return hs
}

func newRedisHarness(t *testing.T, shards int, h Handler, tweak func(*Config)) *harness {
	t.Helper()
	c, ns := redistest.Client(t)
	return newHarness(t, c, ns, shards, h, tweak)
}

// lease makes token current for shard, in Redis and for the fake Leadership.
func (h *harness) lease(shard int, token int64) {
	h.t.Helper()
	require.NoError(h.t, h.c.HSet(context.Background(), h.ks.Shard(shard).Lease(), "token", token, "holder", "w1").Err())
	h.leader.set(shard, token)
}

// start leads shard under token; the returned stop cancels the lease's
// context and waits for RunShard to return.
func (h *harness) start(shard int, token int64) (done <-chan struct{}, stop func()) {
	h.lease(shard, token)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		h.pool.RunShard(ctx, shard, token)
	}()
	stop = func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			h.t.Fatalf("RunShard(%d, %d) did not return", shard, token)
		}
	}
	h.t.Cleanup(stop)
	return ch, stop
}

// payload is a message update of chat.
func payload(uid, chat int64) []byte {
	return fmt.Appendf(nil, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"A"},"chat":{"id":%d,"type":"private"},"date":1764300000,"text":"hi"}}`,
		uid, uid, chat, chat)
}

// enqueue appends a message update of chat to its shard.
func (h *harness) enqueue(uid, chat int64) string {
	h.t.Helper()
	e := queue.Envelope{CID: fmt.Sprintf("%08x", uid), UpdateID: uid, Type: "message", ChatID: chat, UserID: chat,
		Payload: payload(uid, chat), Ingest: "test"}
	e.Shard = h.q.ShardOf(e.Type, chat, chat, uid)
	res, err := h.q.Enqueue(context.Background(), e)
	require.NoError(h.t, err)
	require.False(h.t, res.Duplicate)
	return res.ID
}

// eventually waits for cond with a deadline.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	require.Eventually(h.t, cond, 15*time.Second, 2*time.Millisecond, what)
}

// drained reports whether shard's stream is empty with nothing pending.
func (h *harness) drained(shard int) bool {
	st, err := h.q.Stats(context.Background(), shard)
	return err == nil && st.Length == 0 && st.Pending == 0
}

func (h *harness) pending(shard int) int64 {
	st, err := h.q.Stats(context.Background(), shard)
	require.NoError(h.t, err)
	return st.Pending
}

// recorder is a Handler that records the order of calls per chat and the
// concurrency, and runs an optional per-call behaviour.
type recorder struct {
	mu        sync.Mutex
	calls     []int64           // update ids in call order
	perChat   map[int64][]int64 // chat -> update ids in call order
	busy      map[int64]int     // chat -> running calls
	running   int
	maxChat   int // most calls of one chat at once
	maxAll    int // most calls at once
	behaviour func(ctx context.Context, u *update.Update, n int) error
	seen      map[int64]int // update id -> calls so far
}

func (r *recorder) Handle(ctx context.Context, u *update.Update) error {
	chat := int64(0)
	if m := u.Telego.Message; m != nil {
		chat = m.Chat.ID
	}
	uid := int64(u.UpdateID)
	r.mu.Lock()
	if r.perChat == nil {
		r.perChat, r.busy, r.seen = map[int64][]int64{}, map[int64]int{}, map[int64]int{}
	}
	r.calls = append(r.calls, uid)
	r.perChat[chat] = append(r.perChat[chat], uid)
	r.seen[uid]++
	n := r.seen[uid]
	r.busy[chat]++
	r.running++
	r.maxChat = max(r.maxChat, r.busy[chat])
	r.maxAll = max(r.maxAll, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.busy[chat]--
		r.running--
		r.mu.Unlock()
	}()
	if r.behaviour != nil {
		return r.behaviour(ctx, u, n)
	}
	return nil
}

func (r *recorder) snapshot() (calls []int64, perChat map[int64][]int64, maxChat, maxAll int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	perChat = map[int64][]int64{}
	for k, v := range r.perChat {
		perChat[k] = append([]int64(nil), v...)
	}
	return append([]int64(nil), r.calls...), perChat, r.maxChat, r.maxAll
}

func (r *recorder) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}
