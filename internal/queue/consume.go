package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// ReadNew takes up to count entries never delivered before into consumer's
// pending list, oldest first, under the fencing token: a stale token gets an
// error matching lease.ErrFenced and takes nothing. It never blocks. It
// creates the consumer group (at the start of the stream) when missing.
// When it returns no entries, last is the group's last delivered id, to pass
// to WaitNew.
func (q *Queue) ReadNew(ctx context.Context, shard int, token int64, consumer string, count int) (entries []Entry, last string, err error) {
	k, err := q.shard(shard)
	if err != nil {
		return nil, "", err
	}
	if count < 1 {
		count = 1
	}
	res, err := readScript.Run(ctx, q.c, k, token, []string{k.Stream()}, keys.Group, consumer, count).Slice()
	if err != nil {
		return nil, "", mapErr(ctx, err)
	}
	if len(res) != 2 {
		return nil, "", fmt.Errorf("%w: unexpected read reply %v", ErrUnavailable, res)
	}
	last, _ = res[0].(string)
	list, _ := res[1].([]any)
	entries = make([]Entry, 0, len(list))
	for _, raw := range list {
		pair, ok := raw.([]any)
		if !ok || len(pair) != 2 {
			return entries, last, fmt.Errorf("queue: unexpected stream entry %v", raw)
		}
		entries = append(entries, q.entry(shard, pair[0], 1, pair[1]))
	}
	return entries, last, nil
}

// WaitNew blocks up to block for an entry after id after (the group's last
// delivered id) to appear in the shard's stream. It takes nothing: the
// caller reads with ReadNew afterwards. It returns nil when an entry may be
// there or the block ran out, an error wrapping ErrUnavailable when Redis
// fails. go-redis waits block plus its read margin for the reply, so block
// stays below the client's read timeout by construction.
func (q *Queue) WaitNew(ctx context.Context, shard int, after string, block time.Duration) error {
	k, err := q.shard(shard)
	if err != nil {
		return err
	}
	if after == "" {
		after = "0-0"
	}
	if block < time.Millisecond {
		block = time.Millisecond
	}
	err = q.c.XRead(ctx, &redis.XReadArgs{Streams: []string{k.Stream(), after}, Count: 1, Block: block}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return mapErr(ctx, err)
	}
	return nil
}

// ClaimPending moves to consumer up to count entries pending for any
// consumer (a crashed or stale predecessor, or this consumer's earlier
// term), oldest first, starting after cursor ("" for the beginning). Each
// claim counts one more delivery. next is the cursor for the following call,
// "" when the pending list has been walked to its end. Fenced like ReadNew.
func (q *Queue) ClaimPending(ctx context.Context, shard int, token int64, consumer, cursor string, count int) (entries []Entry, next string, err error) {
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	if count < 1 {
		count = 1
	}
	entries, seen, last, err := q.claim(ctx, shard, token, consumer, start, "+", count)
	if err != nil {
		return nil, cursor, err
	}
	if seen < count {
		return entries, "", nil
	}
	return entries, last, nil
}

// Redeliver takes one pending entry back for consumer for another delivery
// (its delivery count grows by one). ok is false when the entry is no
// longer pending or no longer in the stream. Fenced like ReadNew.
func (q *Queue) Redeliver(ctx context.Context, shard int, token int64, consumer, id string) (e Entry, ok bool, err error) {
	entries, _, _, err := q.claim(ctx, shard, token, consumer, id, id, 1)
	if err != nil || len(entries) == 0 {
		return Entry{}, false, err
	}
	return entries[0], true, nil
}

func (q *Queue) claim(ctx context.Context, shard int, token int64, consumer, start, end string, count int) ([]Entry, int, string, error) {
	k, err := q.shard(shard)
	if err != nil {
		return nil, 0, "", err
	}
	res, err := claimScript.Run(ctx, q.c, k, token, []string{k.Stream()}, keys.Group, consumer, start, end, count).Slice()
	if err != nil {
		return nil, 0, "", mapErr(ctx, err)
	}
	if len(res) != 3 {
		return nil, 0, "", fmt.Errorf("%w: unexpected claim reply %v", ErrUnavailable, res)
	}
	seen, _ := res[0].(int64)
	last, _ := res[1].(string)
	list, _ := res[2].([]any)
	entries := make([]Entry, 0, len(list))
	for _, raw := range list {
		row, ok := raw.([]any)
		if !ok || len(row) != 3 {
			return entries, int(seen), last, fmt.Errorf("queue: unexpected claimed entry %v", raw)
		}
		n, _ := row[1].(int64)
		entries = append(entries, q.entry(shard, row[0], n, row[2]))
	}
	return entries, int(seen), last, nil
}

// entry decodes one stream entry; a malformed one is returned with Invalid
// set, so that the caller can dead-letter it instead of stalling on it.
func (q *Queue) entry(shard int, id any, deliveries int64, fields any) Entry {
	sid, _ := id.(string)
	env, err := decodeFlat(shard, fields)
	return Entry{ID: sid, Envelope: env, Deliveries: deliveries, Invalid: err}
}
