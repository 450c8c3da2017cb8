package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

type statusJSON struct {
	Namespace string `json:"namespace"`
	Instances []struct {
		ID     string `json:"id"`
		Role   string `json:"role"`
		Shards []int  `json:"shards"`
	} `json:"instances"`
	Shards []struct {
		Shard       int     `json:"shard"`
		Holder      string  `json:"holder"`
		Token       int64   `json:"token"`
		TTLSeconds  float64 `json:"ttl_seconds"`
		Length      int64   `json:"stream_length"`
		Pending     int64   `json:"pending"`
		DeadLetters int64   `json:"dead_letters"`
	} `json:"shards"`
}

func TestStatusCommand(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(2, "status")
	active := e.Active(5*time.Second, ins)
	require.NotNil(t, active)
	r, _ := active.Ready()

	var st statusJSON
	require.True(t, proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		out, stderr, code := e.CLI("status", "--json")
		require.Equal(t, 0, code, stderr)
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		return len(st.Instances) == 2 && len(st.Shards) == 1 && st.Shards[0].Holder == active.ID
	}), "status: %+v", st)
	require.Equal(t, e.NS, st.Namespace)
	require.Equal(t, r.Shards["0"].Token, st.Shards[0].Token)
	require.Greater(t, st.Shards[0].TTLSeconds, 0.0)
	roles := map[string]string{}
	for _, in := range st.Instances {
		roles[in.ID] = in.Role
	}
	require.True(t, proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		out, _, _ := e.CLI("status", "--json")
		_ = json.Unmarshal([]byte(out), &st)
		for _, in := range st.Instances {
			roles[in.ID] = in.Role
		}
		return roles[active.ID] == "ACTIVE"
	}), "the heartbeat reports the ACTIVE role: %v", roles)

	table, _, code := e.CLI("status")
	require.Equal(t, 0, code)
	require.Contains(t, table, "SHARD")
	require.Contains(t, table, active.ID)
	t.Logf("dispatcher status:\n%s", table)

	_, stderr, code := e.CLI("status", "--bogus")
	require.Equal(t, 2, code, stderr)
}

type deadLetter struct {
	ID         string `json:"id"`
	UpdateID   int64  `json:"update_id"`
	Reason     string `json:"reason"`
	Deliveries int64  `json:"deliveries"`
	CID        string `json:"cid"`
}

func dlqList(t *testing.T, e *world.World) []deadLetter {
	t.Helper()
	out, stderr, code := e.CLI("dlq", "list", "--json")
	require.Equal(t, 0, code, stderr)
	var dl []deadLetter
	require.NoError(t, json.Unmarshal([]byte(out), &dl), out)
	return dl
}

func TestDeadLetterReplayDispatches(t *testing.T) {
	const poison, dropMe = 720001, 720002
	e := world.New(t, "", map[string]string{"MAX_DELIVERIES": "2"})
	faulty := e.Cluster.Start("dlq-faulty", map[string]string{"DISPATCHER_FAULTS": fmt.Sprintf("panic=%d,%d", poison, dropMe)})
	faulty.WaitReady(20 * time.Second)
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{faulty}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := world.NewDriver([]*proctest.Instance{faulty})
	require.NoError(t, d.Send(ctx, poison, world.EditedMessage(poison, 4242)))
	require.NoError(t, d.Send(ctx, dropMe, world.EditedMessage(dropMe, 4243)))

	var dl []deadLetter
	require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		dl = dlqList(t, e)
		return len(dl) == 2
	}), "two dead letters: %+v", dl)
	byUpdate := map[int64]deadLetter{}
	for _, x := range dl {
		byUpdate[x.UpdateID] = x
		require.Equal(t, "MAX_DELIVERIES", x.Reason)
		require.EqualValues(t, 2, x.Deliveries)
	}
	table, _, _ := e.CLI("dlq", "list")
	t.Logf("dispatcher dlq list:\n%s", table)

	// the fix is deployed: a healthy instance replaces the faulty one
	faulty.Signal(15)
	_, ok := faulty.Wait(15 * time.Second)
	require.True(t, ok)
	healthy := e.Cluster.Start("dlq-healthy", nil)
	healthy.WaitReady(20 * time.Second)
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{healthy}))

	out, stderr, code := e.CLI("dlq", "replay", byUpdate[poison].ID)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "replayed 1")
	_, replayed := healthy.WaitLine(10*time.Second, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_OK" && l.Int("update_id") == poison
	})
	require.True(t, replayed, "the replayed dead letter is dispatched")

	out, stderr, code = e.CLI("dlq", "drop", byUpdate[dropMe].ID)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "dropped 1")
	require.Empty(t, dlqList(t, e))

	_, _, code = e.CLI("dlq", "drop", "0/1-1")
	require.Equal(t, 1, code, "dropping a dead letter that does not exist fails")
	_, _, code = e.CLI("dlq", "replay")
	require.Equal(t, 2, code, "replay needs ids or --all")
}

func TestWebhookCommands(t *testing.T) {
	e := world.New(t, "", nil)
	out, stderr, code := e.CLI("webhook", "set", "https://bot.example.test/webhook", "--max-connections", "10", "--drop-pending")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "webhook set to https://bot.example.test/webhook")
	calls := e.Bot.CallsOf("setWebhook")
	require.Len(t, calls, 1)
	p := calls[0].Params
	require.Equal(t, "https://bot.example.test/webhook", p["url"])
	require.Equal(t, world.WebhookSecret, p["secret_token"])
	require.Equal(t, true, p["drop_pending_updates"])
	require.EqualValues(t, "10", fmt.Sprint(p["max_connections"]))
	require.ElementsMatch(t, []any{"message", "callback_query", "business_message"}, p["allowed_updates"])

	out, stderr, code = e.CLI("webhook", "info")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "https://bot.example.test/webhook")

	out, stderr, code = e.CLI("webhook", "delete")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "webhook deleted")
	require.Len(t, e.Bot.CallsOf("deleteWebhook"), 1)

	_, _, code = e.CLI("webhook", "set", "http://insecure.example.test/")
	require.Equal(t, 2, code, "Telegram requires https")
	require.NotContains(t, out+stderr, world.BotToken)
}

func TestVersionCommand(t *testing.T) {
	e := world.New(t, "", nil)
	out, _, code := e.CLI("version")
	require.Equal(t, 0, code)
	require.Regexp(t, `^dispatcher \S+ \(commit \S+, go1\.\d+`, out)
	_, stderr, code := e.CLI("nonsense")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "unknown command")
}

// metricValue sums the samples of a series whose line starts with prefix.
func metricValue(body, prefix string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &v)
			sum += v
		}
	}
	return sum
}

func scrape(t *testing.T, in *proctest.Instance) string {
	t.Helper()
	resp, err := http.Get(in.URL("/metrics"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(1, "metrics")
	in := ins[0]
	require.NotNil(t, e.Active(5*time.Second, ins))
	before := scrape(t, in)
	ns := `redis_namespace="` + e.NS + `"`
	require.Equal(t, 1.0, metricValue(before, `dispatcher_lease_active{`+ns+`,shard="0"}`))
	// Counters an alert or a panel reads exist at 0 before their first
	// event (a counter born at 1 has no increase() to see).
	for _, series := range []string{
		`dispatcher_dead_letters_total{` + ns + `} 0`,
		`dispatcher_passive_rejects_total{` + ns + `} 0`,
		`dispatcher_dispatch_failures_total{error_type="HANDLER_PANIC",` + ns + `} 0`,
		`dispatcher_telegram_api_failures_total{error_type="TELEGRAM_401",` + ns + `} 0`,
		`dispatcher_webhook_rejections_total{reason="REDIS_UNAVAILABLE",` + ns + `} 0`,
		`dispatcher_lease_transitions_total{` + ns + `,role="PASSIVE"} 0`,
		`dispatcher_updates_enqueued_total{` + ns + `,update_type="callback_query"} 0`,
		`dispatcher_journal_dropped_total{` + ns + `} 0`,
		`dispatcher_webhook_request_duration_seconds_count{code="503",` + ns + `} 0`,
		`dispatcher_shards{` + ns + `} 1`,
	} {
		require.Contains(t, before, "\n"+series+"\n", "a fresh instance exports %s", series)
	}
	require.Regexp(t, `\ndispatcher_build_info\{bot="dispatcher_bot",commit="[^"]*",goversion="go[^"]+",instance_id="metrics-0",`+ns+`,version="[^"]+"\} 1\n`, before)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := world.NewDriver(ins)
	for i := int64(0); i < 20; i++ {
		require.NoError(t, d.Send(ctx, 730000+i, world.EditedMessage(730000+i, 5000+i)))
	}
	require.NoError(t, d.Send(ctx, 730000, world.EditedMessage(730000, 5000))) // a duplicate
	code, _, err := in.Post(ctx, "/webhook", []byte(`{"not":"an update"}`))
	require.NoError(t, err)
	require.Equal(t, 400, code)

	var after string
	require.True(t, proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		after = scrape(t, in)
		return metricValue(after, "dispatcher_dispatch_duration_seconds_count") >= 20
	}), "dispatches counted")
	require.Equal(t, 20.0, metricValue(after, "dispatcher_updates_enqueued_total"))
	require.Equal(t, 1.0, metricValue(after, "dispatcher_updates_duplicate_total"))
	require.Equal(t, 1.0, metricValue(after, `dispatcher_webhook_rejections_total{reason="BAD_PAYLOAD"`))
	require.Equal(t, 21.0, metricValue(after, `dispatcher_webhook_request_duration_seconds_count{code="200"`))
	require.Equal(t, 1.0, metricValue(after, `dispatcher_webhook_request_duration_seconds_count{code="400"`))
	require.GreaterOrEqual(t, metricValue(after, "dispatcher_dispatch_wait_seconds_count"), 20.0)
	require.GreaterOrEqual(t, metricValue(after, "dispatcher_lease_transitions_total"), 1.0)
	// the queue gauges of the shard held, refreshed at most a second after
	// the lease was won, then every 5s
	require.True(t, proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		return strings.Contains(scrape(t, in), "dispatcher_queue_length{")
	}), "the holder exports its shard's queue gauges")
	require.Contains(t, after, "go_goroutines")
}

func TestLiveDuplicateInstanceIDIsRefused(t *testing.T) {
	e := world.New(t, "", nil)
	first := e.Start(1, "dup")[0]
	second := e.Cluster.Start(first.ID, nil)
	code, exited := second.Wait(15 * time.Second)
	require.True(t, exited, "the duplicate exits")
	require.Equal(t, 2, code, "a live duplicate INSTANCE_ID is bad configuration: %s", second.Output())
	require.Contains(t, second.Output(), "INSTANCE_ID")
	require.False(t, first.Exited(), "the first instance keeps running")
}
