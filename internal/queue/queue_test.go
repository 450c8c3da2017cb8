package queue

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// env is a test envelope of chat chat with update id uid.
func env(uid, chat int64) Envelope {
	return Envelope{CID: "0badcafe", UpdateID: uid, Type: "message", ChatID: chat, UserID: chat + 1,
		Payload: []byte(`{"update_id":1}`), Ingest: "test"}
}

// newQueue returns a queue on the shared real server in a fresh namespace.
func newQueue(t *testing.T, opts Options) (*Queue, *redis.Client, keys.Space) {
	t.Helper()
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	return New(c, ks, opts), c, ks
}

// setLease writes the shard's lease hash the way the lease manager does, so
// that fenced scripts run under token.
func setLease(t *testing.T, c redis.Cmdable, ks keys.Space, shard int, token int64) {
	t.Helper()
	require.NoError(t, c.HSet(context.Background(), ks.Shard(shard).Lease(), "token", token, "holder", "x").Err())
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
