package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestStreamFormatFollowsTheLiveInstances: an instance writes the packed
// entry format only while every live instance's heartbeat says it reads it.
// A heartbeat of an earlier version (no "reads") turns it back to one field
// per part within a heartbeat interval, and entries of both formats are
// dispatched.
func TestStreamFormatFollowsTheLiveInstances(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// the test holds the shard, so that the entries stay in the stream to be looked at
	require.NoError(t, c.HSet(ctx, ks.Shard(0).Lease(), "token", 1, "holder", "test").Err())
	old := ks.Instance("old-1")
	beatOld := func() {
		require.NoError(t, c.HSet(ctx, old, "nonce", "n", "beat", "n:1", "info", `{"id":"old-1"}`).Err())
		require.NoError(t, c.PExpire(ctx, old, time.Minute).Err())
	}
	beatOld()

	in := start(t, redistest.URL(t), ns)
	require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), `"name":"SERVICE_READY"`) },
		10*time.Second, 10*time.Millisecond)

	post := func(uid int) map[string]any {
		t.Helper()
		body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"date":1764300000,"text":"hi",`+
			`"chat":{"id":77,"type":"private"},"from":{"id":77,"is_bot":false,"first_name":"E"}}}`, uid)
		require.Equal(t, http.StatusOK, in.post(t, body))
		msgs, err := c.XRange(ctx, ks.Shard(0).Stream(), "-", "+").Result()
		require.NoError(t, err)
		last := msgs[len(msgs)-1].Values
		require.Equal(t, fmt.Sprint(uid), last["uid"])
		return last
	}
	waitFormat := func(n int) {
		t.Helper()
		want := fmt.Sprintf(`"stream_format":%d`, n)
		require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), want) }, 10*time.Second, 10*time.Millisecond,
			"no %s; logs:\n%s", want, in.logs.String())
	}

	e := post(1)
	require.Equal(t, "message", e["type"], "an instance of an earlier version is live: one field per part")
	require.NotContains(t, e, "h")

	require.NoError(t, c.Del(ctx, old).Err())
	waitFormat(2)
	e = post(2)
	require.NotContains(t, e, "cid")
	require.Regexp(t, `^\S+ 77 77 e2e-`, e["h"])
	require.Equal(t, "message", e["type"], "the type stays a field: a reader of an earlier version routes by it")

	beatOld()
	waitFormat(1)
	e = post(3)
	require.Contains(t, e, "cid", "back to one field per part once an earlier version is live again")

	// the instance takes the shard and dispatches entries of both formats
	require.NoError(t, c.Del(ctx, ks.Shard(0).Lease()).Err())
	require.Eventually(t, func() bool { return len(in.logs.Events("DISPATCH_OK")) == 3 }, 15*time.Second, 10*time.Millisecond,
		"logs:\n%s", in.logs.String())
	for _, ev := range in.logs.Events("DISPATCH_OK") {
		require.Equal(t, float64(77), ev["chat_id"])
		require.NotEmpty(t, ev["cid"])
	}
}
