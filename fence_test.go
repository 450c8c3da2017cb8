package dispatcher

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// rig is the public API's adapter on a real Redis and the fake Bot API,
// with the lease's validity under the test's control.
type rig struct {
	h     worker.Handler
	bot   *fakebot.Server
	logs  *logtest.Buffer
	ks    keys.Space
	rc    *redisx.Client
	valid atomic.Bool
	be    *server.BotEnv
}

func newRig(t *testing.T, h Handler) *rig {
	t.Helper()
	url := redistest.URL(t)
	ns := redistest.Namespace(t)
	cfg := config.Default()
	cfg.RedisURL, cfg.Namespace = url, ns
	rc, err := redisx.New(&cfg)
	require.NoError(t, err)
	t.Cleanup(func() { rc.Close() })
	r := &rig{bot: fakebot.New(), logs: &logtest.Buffer{}, ks: keys.New(ns), rc: rc}
	api := httptest.NewServer(r.bot)
	t.Cleanup(api.Close)
	log, err := telemetry.New(telemetry.Options{Format: "json", Output: r.logs, Instance: "t"})
	require.NoError(t, err)
	tg, err := telegram.New(telegram.Config{Token: "123456:TESTtokenTESTtokenTESTtokenTESTtok1", APIURL: api.URL, Log: log, NoLimits: true})
	require.NoError(t, err)
	r.valid.Store(true)
	r.be = &server.BotEnv{Config: &cfg, Redis: rc, Keys: r.ks, Log: log, Telegram: tg,
		Valid: func(int, int64) bool { return r.valid.Load() }}
	r.h = adapt(r.be, h)
	return r
}

// env is the instance's parts the rig's handler runs on (set Journal and
// Debug before the first dispatch).
func (r *rig) env(*testing.T) *server.BotEnv { return r.be }

// dispatch runs one update under shard 0's fence with token 7, the token
// the lease hash in Redis holds.
func (r *rig) dispatch(t *testing.T, body string) error {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, r.rc.HSet(ctx, r.ks.Shard(0).Lease(), "token", 7).Err())
	info, err := update.Scan([]byte(body))
	require.NoError(t, err)
	u, err := update.Decode([]byte(body), info)
	require.NoError(t, err)
	ctx = lease.WithFence(ctx, lease.Fence{Shard: r.ks.Shard(0), Token: 7})
	ctx = telemetry.WithUpdate(ctx, telemetry.Update{CID: "0000cafe", UpdateID: u.UpdateID, Type: u.Type, ChatID: u.ChatID, UserID: u.UserID})
	return r.h.Handle(ctx, u)
}

const startBody = `{"update_id":501,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"/start"}}`

var incr = NewScript(`return redis.call('INCR', KEYS[2])`)

// Once the instance no longer holds the shard, every call of the Context
// is refused without effect, and the dispatch logs PASSIVE_REJECT once.
func TestContextCallsAreFencedOnceTheShardIsLost(t *testing.T) {
	var replyErr, stateErr, runErr error
	r := newRig(t, HandlerFunc(func(c *Context) error {
		_, replyErr = c.Reply("hello", nil)
		_, stateErr = c.SetState(fsm.AnyRev, fsm.State{Screen: "MAIN"})
		_, runErr = c.Run(incr, []string{c.Key("n")})
		return errors.Join(replyErr, stateErr, runErr)
	}))
	r.valid.Store(false)
	err := r.dispatch(t, startBody)
	require.ErrorIs(t, err, ErrNotActive)
	for _, e := range []error{replyErr, stateErr, runErr} {
		require.ErrorIs(t, e, ErrNotActive)
		var nae *NotActiveError
		require.ErrorAs(t, e, &nae)
		require.Equal(t, int64(7), nae.Token)
	}
	require.Empty(t, r.bot.Calls(), "nothing reached the Bot API")
	n, _ := r.rc.Exists(context.Background(), r.ks.Shard(0).App("n"), r.ks.Shard(0).FSM(42, 42)).Result()
	require.Zero(t, n, "nothing was written")
	ev := r.logs.Events("MESSAGE_REJECTED")
	require.Len(t, ev, 1)
	require.Equal(t, "PASSIVE_REJECT", ev[0]["reason_code"])
	require.Equal(t, "0000cafe", ev[0]["cid"])
}

// A handler that swallows the refusal still does not get the update
// acknowledged: the adapter returns the refusal.
func TestSwallowedRefusalIsNotAcknowledged(t *testing.T) {
	r := newRig(t, HandlerFunc(func(c *Context) error {
		_, _ = c.Reply("hello", nil)
		return nil
	}))
	r.valid.Store(false)
	require.ErrorIs(t, r.dispatch(t, startBody), ErrNotActive)
	require.Len(t, r.logs.Events("MESSAGE_REJECTED"), 1)
}

// Redis fences the script itself: a token that is not the lease's current
// one is refused even while this process still believes it holds it.
func TestScriptIsFencedInRedis(t *testing.T) {
	var runErr error
	r := newRig(t, HandlerFunc(func(c *Context) error {
		require.NoError(t, r0(c).HSet(c, c.Key("x"), "a", 1).Err()) // unfenced write works
		require.NoError(t, r0(c).HSet(c, keys.New(nsOf(c)).Shard(0).Lease(), "token", 8).Err())
		_, runErr = c.Run(incr, []string{c.Key("n")})
		return runErr
	}))
	require.ErrorIs(t, r.dispatch(t, startBody), ErrNotActive)
	require.ErrorIs(t, runErr, ErrNotActive)
}

func r0(c *Context) *redisx.Client { return c.env.Redis }
func nsOf(c *Context) string       { return c.env.Keys.Namespace() }

// Under the fence a script runs, on keys of the update's shard only.
func TestScriptRunsOnShardKeys(t *testing.T) {
	var got []any
	r := newRig(t, HandlerFunc(func(c *Context) error {
		for range 3 {
			v, err := c.Run(incr, []string{c.Key("n")})
			if err != nil {
				return err
			}
			got = append(got, v)
		}
		_, err := c.Run(incr, []string{"elsewhere"})
		require.ErrorContains(t, err, "not a Context.Key")
		c.Accept("DONE")
		return nil
	}))
	require.NoError(t, r.dispatch(t, startBody))
	require.Equal(t, []any{int64(1), int64(2), int64(3)}, got)
	ev := r.logs.Events("MESSAGE_ACCEPTED")
	require.Len(t, ev, 1)
	require.Equal(t, "DONE", ev[0]["next_screen"])
}
