// Package world sets up the world of a multi-instance test: a namespace on
// a real redis-server, Telegram played by the recording fake Bot API over
// HTTP, a cluster of real `dispatcher` processes, and a driver that posts
// updates the way Telegram does (resending on any non-2xx or timeout). The
// e2e and chaos suites share it.
package world

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// Credentials every instance of a World gets.
const (
	BotToken      = "123456:E2EtokenE2EtokenE2EtokenE2Etoken123"
	WebhookSecret = "e2e-secret"
)

// World is one test's world: a namespace on a real Redis, a fake Bot API and
// a cluster of dispatcher processes.
type World struct {
	T       *testing.T
	NS      string
	Redis   *redis.Client
	Keys    keys.Space
	Bot     *fakebot.Server
	API     *httptest.Server
	Cluster *proctest.Cluster
}

// New prepares a world on the shared redis-server (redisURL "") or on the
// given one; extra is added to every instance's environment.
func New(t *testing.T, redisURL string, extra map[string]string) *World {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	var c *redis.Client
	ns := redistest.Namespace(t)
	if redisURL == "" {
		c, ns = redistest.Client(t)
		redisURL = redistest.URL(t)
	} else {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		c = redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
	}
	bot := fakebot.New()
	api := httptest.NewServer(bot)
	t.Cleanup(api.Close)
	base := map[string]string{
		"REDIS_URL": redisURL, "REDIS_NAMESPACE": ns, "BOT_TOKEN": BotToken, "SANDBOX": "false",
		"TELEGRAM_API_URL": api.URL, "WEBHOOK_SECRET": WebhookSecret, "LEASE_TTL": "2s",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json",
	}
	for k, v := range extra {
		base[k] = v
	}
	return &World{T: t, NS: ns, Redis: c, Keys: keys.New(ns), Bot: bot, API: api,
		Cluster: proctest.NewCluster(t, base)}
}

// Start starts n instances named prefix-0..n-1 and waits until they are ready.
func (e *World) Start(n int, prefix string) []*proctest.Instance {
	e.T.Helper()
	var out []*proctest.Instance
	for i := 0; i < n; i++ {
		out = append(out, e.Cluster.Start(fmt.Sprintf("%s-%d", prefix, i), nil))
	}
	for _, in := range out {
		in.WaitReady(20 * time.Second)
	}
	return out
}

// Active returns the one instance whose /readyz says ACTIVE for shard 0,
// waiting up to timeout; nil if none.
func (e *World) Active(timeout time.Duration, among []*proctest.Instance) *proctest.Instance {
	var found *proctest.Instance
	proctest.Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, in := range among {
			if in.Exited() {
				continue
			}
			if r, ok := in.Ready(); ok && r.Shards["0"].Role == "ACTIVE" {
				found = in
				return true
			}
		}
		return false
	})
	return found
}

// CLI runs a dispatcher command against this world's Redis and returns its
// stdout, stderr and exit code.
func (e *World) CLI(args ...string) (string, string, int) {
	e.T.Helper()
	return e.Cluster.CLI(args...)
}

// CLIEnv is CLI with extra environment (an empty value unsets a variable).
func (e *World) CLIEnv(extra map[string]string, args ...string) (string, string, int) {
	e.T.Helper()
	return e.Cluster.CLIEnv(extra, args...)
}

// Driver posts updates like Telegram: round-robin over instances (a load
// balancer), resending on any non-2xx, error or timeout until accepted.
type Driver struct {
	mu       sync.Mutex
	targets  []*proctest.Instance
	next     int
	accepted map[int64]string // update_id -> cid of the 200 answer
	resends  int
	answers  map[int]int // status code (0: no answer) -> count
}

// NewDriver returns a driver posting to targets.
func NewDriver(targets []*proctest.Instance) *Driver {
	return &Driver{targets: targets, accepted: map[int64]string{}, answers: map[int]int{}}
}

// SetTargets replaces the instances posted to.
func (d *Driver) SetTargets(t []*proctest.Instance) {
	d.mu.Lock()
	d.targets = t
	d.mu.Unlock()
}

func (d *Driver) pick() *proctest.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := d.targets[d.next%len(d.targets)]
	d.next++
	return in
}

// Send posts one update until an instance answers 200, or ctx ends.
func (d *Driver) Send(ctx context.Context, updateID int64, body []byte) error {
	for {
		in := d.pick()
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		code, resp, err := in.Post(pctx, "/webhook", body)
		cancel()
		d.mu.Lock()
		if err != nil {
			d.answers[0]++
		} else {
			d.answers[code]++
		}
		d.mu.Unlock()
		if err == nil && code == http.StatusOK {
			var r struct {
				CID string `json:"cid"`
			}
			_ = json.Unmarshal([]byte(resp), &r)
			d.mu.Lock()
			d.accepted[updateID] = r.CID
			d.mu.Unlock()
			return nil
		}
		d.mu.Lock()
		d.resends++
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("update %d not accepted: last answer %d %v", updateID, code, err)
		case <-time.After(50 * time.Millisecond): // Telegram's resend delay, compressed
		}
	}
}

// Accepted returns the update_ids answered 200.
func (d *Driver) Accepted() map[int64]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int64]string, len(d.accepted))
	for k, v := range d.accepted {
		out[k] = v
	}
	return out
}

// Answers returns how many posts got each HTTP status; 0 counts posts that
// got no answer (connection refused or reset, timeout).
func (d *Driver) Answers() map[int]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int]int, len(d.answers))
	for k, v := range d.answers {
		out[k] = v
	}
	return out
}

// Backlog returns the length of shard's stream and the number of entries
// pending in its consumer group (0 when the group does not exist yet).
func (e *World) Backlog(ctx context.Context, shard int) (length, pending int64, err error) {
	stream := e.Keys.Shard(shard).Stream()
	if length, err = e.Redis.XLen(ctx, stream).Result(); err != nil {
		return 0, 0, err
	}
	p, err := e.Redis.XPending(ctx, stream, keys.Group).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return length, 0, nil
		}
		return 0, 0, err
	}
	return length, p.Count, nil
}

// EditedMessage is an update no handler takes: dispatched with no Telegram
// call, so load tests measure the dispatcher, not the Bot API limiter.
func EditedMessage(updateID, chat int64) []byte {
	return []byte(fmt.Sprintf(`{"update_id":%d,"edited_message":{"message_id":%d,"date":1764300000,"edit_date":1764300001,`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"L"},"text":"edited"}}`,
		updateID, updateID, chat, chat))
}

// TextMessage is a text message (no entities: a command is not marked
// as one) in a private chat.
func TextMessage(updateID, chat int64, text string) []byte {
	return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":%q,`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"T"}}}`,
		updateID, updateID, text, chat, chat))
}

// StartMessage is a /start command in a private chat.
func StartMessage(updateID, chat int64) []byte {
	return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":"/start",`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"S"},`+
		`"entities":[{"type":"bot_command","offset":0,"length":6}]}}`, updateID, updateID, chat, chat))
}

// Callback is a button click on message messageID of chat.
func Callback(updateID, chat int64, messageID int64, data, queryID string) []byte {
	return []byte(fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":%q,"data":%q,"chat_instance":"1",`+
		`"from":{"id":%d,"is_bot":false,"first_name":"C"},"message":{"message_id":%d,"date":1764300000,`+
		`"chat":{"id":%d,"type":"private"},"text":"menu"}}}`, updateID, queryID, data, chat, messageID, chat))
}

// LinesNamed returns the lines with the given event name.
func LinesNamed(lines []proctest.Line, name string) []proctest.Line {
	var out []proctest.Line
	for _, l := range lines {
		if l.Name() == name {
			out = append(out, l)
		}
	}
	return out
}
