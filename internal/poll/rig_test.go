package poll_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/poll"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// rig is one test's world: a namespace on the real redis-server, the
// recording fake Bot API over HTTP, and pollers of that namespace.
type rig struct {
	t    *testing.T
	c    *redis.Client
	ks   keys.Space
	q    *queue.Queue
	bot  *fakebot.Server
	api  *httptest.Server
	logs *logtest.Buffer
	log  *telemetry.Logger
}

func newRig(t *testing.T, opts queue.Options) *rig {
	t.Helper()
	c, ns := redistest.Client(t)
	logs := &logtest.Buffer{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.InfoLevel, Instance: "poll-test", Output: logs})
	require.NoError(t, err)
	if opts.Shards == 0 {
		opts.Shards = 2
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = time.Hour
	}
	bot := fakebot.New()
	api := httptest.NewServer(bot)
	t.Cleanup(api.Close)
	ks := keys.New(ns)
	return &rig{t: t, c: c, ks: ks, q: queue.New(c, ks, opts), bot: bot, api: api, logs: logs, log: log}
}

// start runs a poller named instance until the test ends (or stop).
func (r *rig) start(instance string, mod func(*poll.Config)) (p *poll.Poller, stop func()) {
	r.t.Helper()
	h := ingest.New(ingest.Config{Queue: r.q, Log: r.log, Metrics: metrics.NewTest(), Instance: instance})
	cfg := poll.Config{Client: r.c, Keys: r.ks, Queue: r.q, Ingest: h, Token: telegram.SandboxToken, APIURL: r.api.URL,
		Instance: instance, TTL: time.Second, Drain: 2 * time.Second, Timeout: time.Second, Log: r.log,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	p, err := poll.New(cfg)
	require.NoError(r.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	r.t.Cleanup(stop)
	return p, stop
}

// message is a text message of chat with update_id id.
func message(id, chat int64) []byte {
	return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":"hi",`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"P"}}}`, id, id, chat, chat))
}

// queueBatch queues updates first..first+n-1 over chats chats, as one batch.
func (r *rig) queueBatch(first int64, n int, chats int64) []int64 {
	r.t.Helper()
	var bodies [][]byte
	for i := 0; i < n; i++ {
		id := first + int64(i)
		bodies = append(bodies, message(id, 100+id%chats))
	}
	ids, err := r.bot.QueueAll(bodies...)
	require.NoError(r.t, err)
	return ids
}

// streamed returns the update_ids on the shard streams, per shard in stream
// order.
func (r *rig) streamed() map[int][]int64 {
	r.t.Helper()
	out := map[int][]int64{}
	for n := 0; n < r.q.Shards(); n++ {
		entries, err := r.c.XRange(context.Background(), r.ks.Shard(n).Stream(), "-", "+").Result()
		require.NoError(r.t, err)
		for _, e := range entries {
			var id int64
			_, _ = fmt.Sscan(fmt.Sprint(e.Values["uid"]), &id)
			out[n] = append(out[n], id)
		}
	}
	return out
}

// count returns how many of ids are on the streams, each counted as often
// as it is there.
func (r *rig) count() int {
	n := 0
	for _, ids := range r.streamed() {
		n += len(ids)
	}
	return n
}

// events returns the logged events named name.
func (r *rig) events(name string) []map[string]any { return r.logs.Events(name) }

// storedOffset reads the offset the poller keeps in Redis.
func (r *rig) storedOffset() int64 {
	v, _ := r.c.Get(context.Background(), r.ks.PollOffset()).Int64()
	return v
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 15*time.Second, 10*time.Millisecond, what)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
