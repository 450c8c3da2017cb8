package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestStreamFormatHandshakeAcrossProcesses: two real instances and the
// heartbeat of an instance of an earlier version (its info lists no
// formats) share a namespace. While that heartbeat lives, both ingest in
// format 1 (one field per part); once it is gone, both write the packed
// format; when it is back, format 1 again. The test holds the shard's lease
// meanwhile, so that the entries wait in the stream to be looked at; then
// it lets go, and the instance that takes the shard dispatches the entries
// of both formats, each with the cid and chat its ingest gave it.
func TestStreamFormatHandshakeAcrossProcesses(t *testing.T) {
	e := world.New(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, e.Redis.HSet(ctx, e.Keys.Shard(0).Lease(), "token", 1, "holder", "test").Err())
	old := e.Keys.Instance("old-0")
	beatOld := func() {
		t.Helper()
		require.NoError(t, e.Redis.HSet(ctx, old, "nonce", "n", "beat", "n:1", "info", `{"id":"old-0"}`).Err())
		require.NoError(t, e.Redis.PExpire(ctx, old, time.Minute).Err())
	}
	beatOld()
	ins := e.Start(2, "fmt")

	uid := int64(7100)
	post := func(in *proctest.Instance) map[string]any {
		t.Helper()
		uid++
		code, body, err := in.Post(ctx, "/webhook", world.TextMessage(uid, 4200+uid%2, "hi"))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, body)
		msgs, err := e.Redis.XRange(ctx, e.Keys.Shard(0).Stream(), "-", "+").Result()
		require.NoError(t, err)
		last := msgs[len(msgs)-1].Values
		require.Equal(t, strconv.FormatInt(uid, 10), last["uid"])
		return last
	}
	// waitFormat waits for each instance's line of a change to format (the
	// first format, 1, is not a change: such a line means a move back)
	waitFormat := func(format int64) {
		t.Helper()
		for _, in := range ins {
			_, ok := in.WaitLine(10*time.Second, func(l proctest.Line) bool {
				return l.Name() == "SERVICE_READY" && l.Int("stream_format") == format
			})
			require.True(t, ok, "%s: no change to stream format %d:\n%s", in.ID, format, in.Output())
		}
	}

	for _, in := range ins {
		e := post(in)
		require.Contains(t, e, "cid", "an instance of an earlier version is live: one field per part")
		require.NotContains(t, e, "h")
	}
	require.NoError(t, e.Redis.Del(ctx, old).Err())
	waitFormat(2)
	for _, in := range ins {
		e := post(in)
		require.NotContains(t, e, "cid")
		require.Regexp(t, `^[0-9a-f]{8} 42\d\d 42\d\d `+in.ID+`$`, e["h"])
		require.Equal(t, "message", e["type"])
	}
	beatOld()
	waitFormat(1)
	for _, in := range ins {
		require.Contains(t, post(in), "cid", "back to one field per part")
	}

	// the shard is let go: its new holder dispatches all six
	require.NoError(t, e.Redis.Del(ctx, e.Keys.Shard(0).Lease()).Err())
	require.NotNil(t, e.Active(10*time.Second, ins))
	enqueued := map[int64]proctest.Line{}
	ok := proctest.Eventually(20*time.Second, 20*time.Millisecond, func() bool {
		n := 0
		for _, l := range e.Cluster.Lines() {
			switch l.Name() {
			case "QUEUE_ENQUEUE":
				enqueued[l.Int("update_id")] = l
			case "DISPATCH_OK":
				n++
			}
		}
		return n == 6
	})
	require.True(t, ok, "not all six dispatched")
	for _, l := range world.LinesNamed(e.Cluster.Lines(), "DISPATCH_OK") {
		in := enqueued[l.Int("update_id")]
		require.Equal(t, in.Str("cid"), l.Str("cid"), "update %d", l.Int("update_id"))
		require.Equal(t, 4200+l.Int("update_id")%2, l.Int("chat_id"))
	}
}
