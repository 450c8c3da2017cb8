package world

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// Poller returns the instance whose /readyz says it holds the poll lease
// (INGEST=poll) and its token, waiting up to timeout; nil when none does.
func (e *World) Poller(timeout time.Duration, among []*proctest.Instance) (*proctest.Instance, int64) {
	var found *proctest.Instance
	var token int64
	proctest.Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, in := range among {
			if in.Exited() {
				continue
			}
			if r, ok := in.Ready(); ok && r.Poll != nil && r.Poll.Role == "ACTIVE" {
				found, token = in, r.Poll.Token
				return true
			}
		}
		return false
	})
	return found, token
}

// Pollers returns how many of the instances say they hold the poll lease
// now (for checks that there is never more than one).
func Pollers(among []*proctest.Instance) int {
	n := 0
	for _, in := range among {
		if r, ok := in.Ready(); ok && r.Poll != nil && r.Poll.Role == "ACTIVE" {
			n++
		}
	}
	return n
}

// Appends returns how many entries were ever appended to the world's shard
// streams (Redis 7's XINFO STREAM entries-added), whatever was acknowledged
// and deleted since: every ingest that was not a duplicate.
func (e *World) Appends(ctx context.Context, shards int) (int64, error) {
	var n int64
	for s := 0; s < shards; s++ {
		info, err := e.Redis.XInfoStream(ctx, e.Keys.Shard(s).Stream()).Result()
		if err != nil {
			if err.Error() == "ERR no such key" {
				continue
			}
			return 0, err
		}
		n += info.EntriesAdded
	}
	return n, nil
}

// SetWebhook registers a webhook on the world's fake Bot API, as an
// operator's `dispatcher webhook set` would.
func (e *World) SetWebhook() error {
	resp, err := http.Post(e.API.URL+"/bot"+BotToken+"/setWebhook", "application/json",
		bytes.NewReader([]byte(`{"url":"https://bot.example/webhook"}`)))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
