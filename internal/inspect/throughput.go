package inspect

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counters are the cumulative counts of every shard's stream at one moment;
// two of them a few seconds apart give the rates the ops page shows.
type Counters struct {
	At time.Time
	// Added is, per shard, the entries ever appended to the stream (Redis'
	// entries-added, 7.0 and later; -1 when the server does not report it).
	Added []int64
	// Length is, per shard, the stream's length.
	Length []int64
}

// Counters reads every shard's counters in one pipeline; at is the time
// they are taken as read at.
func (in *Inspector) Counters(ctx context.Context, at time.Time) (Counters, error) {
	shards, err := in.ShardCount(ctx)
	if err != nil {
		return Counters{At: at}, err
	}
	c := Counters{At: at, Added: make([]int64, shards), Length: make([]int64, shards)}
	cmds := make([]*redis.XInfoStreamCmd, shards)
	_, err = in.c.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range cmds {
			cmds[n] = p.XInfoStream(ctx, in.c.Keys.Shard(n).Stream())
		}
		return nil
	})
	for n, cmd := range cmds {
		switch {
		case cmd.Err() == nil:
			v := cmd.Val()
			c.Added[n], c.Length[n] = v.EntriesAdded, v.Length
			if v.EntriesAdded == 0 && v.Length > 0 { // a server before 7.0
				c.Added[n] = -1
			}
		case strings.Contains(cmd.Err().Error(), "no such key"):
			// no update yet: nothing added
		default:
			return c, err
		}
	}
	return c, nil
}

// Rate is the deployment's throughput between two Counters, in updates per
// second summed over the shards: In appended to the streams (webhook,
// replays), Done left them (acknowledged after a dispatch, or
// dead-lettered).
type Rate struct {
	In, Done float64
	// Known is false when a server does not report entries-added, or the
	// two Counters do not span time.
	Known bool
}

// RateBetween returns the rate from a to b (b later).
func RateBetween(a, b Counters) Rate {
	secs := b.At.Sub(a.At).Seconds()
	if secs <= 0 || len(a.Added) != len(b.Added) {
		return Rate{}
	}
	var in, done int64
	for n := range b.Added {
		if a.Added[n] < 0 || b.Added[n] < 0 {
			return Rate{}
		}
		added := b.Added[n] - a.Added[n]
		in += added
		done += added - (b.Length[n] - a.Length[n])
	}
	return Rate{In: float64(in) / secs, Done: float64(max(done, 0)) / secs, Known: true}
}
