package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// Reclaim takes back up to count of consumer's own pending entries that
// are not in held and have been idle at least minIdle, oldest first: the
// entries a ReadNew (or a claim) moved to consumer whose reply was lost.
// Their delivery counts are kept, since nothing was delivered. Fenced like
// ReadNew.
func (q *Queue) Reclaim(ctx context.Context, shard int, token int64, consumer string, minIdle time.Duration, count int, held []string) ([]Entry, error) {
	k, err := q.shard(shard)
	if err != nil {
		return nil, err
	}
	if count < 1 {
		count = 1
	}
	args := make([]any, 0, 4+len(held))
	args = append(args, keys.Group, consumer, minIdle.Milliseconds(), count)
	for _, id := range held {
		args = append(args, id)
	}
	res, err := reclaimScript.Run(ctx, q.c, k, token, []string{k.Stream()}, args...).Slice()
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	entries := make([]Entry, 0, len(res))
	for _, raw := range res {
		row, ok := raw.([]any)
		if !ok || len(row) != 3 {
			return entries, fmt.Errorf("queue: unexpected reclaimed entry %v", raw)
		}
		n, _ := row[1].(int64)
		entries = append(entries, q.entry(shard, row[0], n, row[2]))
	}
	return entries, nil
}

// Consumer is one consumer of a shard's group.
type Consumer struct {
	Name    string
	Pending int64
	Idle    time.Duration
}

// Consumers lists the consumers of shard's group (none when the stream or
// the group does not exist yet).
func (q *Queue) Consumers(ctx context.Context, shard int) ([]Consumer, error) {
	k, err := q.shard(shard)
	if err != nil {
		return nil, err
	}
	cs, err := q.c.XInfoConsumers(ctx, k.Stream(), keys.Group).Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOGROUP") || strings.Contains(err.Error(), "no such key") {
			return nil, nil
		}
		return nil, mapErr(ctx, err)
	}
	out := make([]Consumer, 0, len(cs))
	for _, c := range cs {
		out = append(out, Consumer{Name: c.Name, Pending: c.Pending, Idle: c.Idle})
	}
	return out, nil
}

// ForgetConsumers removes the named consumers from shard's group, each only
// while it has no pending entry, and returns how many it removed. Fenced
// like ReadNew: only the shard's ACTIVE instance removes consumers (after
// it has claimed every pending entry, none of the others has any).
func (q *Queue) ForgetConsumers(ctx context.Context, shard int, token int64, names []string) (int, error) {
	if len(names) == 0 {
		return 0, nil
	}
	k, err := q.shard(shard)
	if err != nil {
		return 0, err
	}
	args := make([]any, 0, 1+len(names))
	args = append(args, keys.Group)
	for _, n := range names {
		args = append(args, n)
	}
	n, err := forgetScript.Run(ctx, q.c, k, token, []string{k.Stream()}, args...).Int()
	if err != nil {
		return 0, mapErr(ctx, err)
	}
	return n, nil
}
