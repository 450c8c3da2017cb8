package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
)

// The shard count of a namespace is recorded in Redis (keys.Space.Shards)
// by the first instance that starts: an update's shard depends on it, so
// every instance must use the same SHARDS, or one chat's updates land in
// two streams (order lost, dedupe missed) and streams above a lowered
// count are never read. Changing the count of a live namespace is not
// supported.

// RecordShards records n as the namespace's shard count unless one is
// recorded already, and returns the recorded count (n when this call
// recorded it).
func RecordShards(ctx context.Context, c redis.UniversalClient, ks keys.Space, n int) (int, error) {
	set, err := c.SetNX(ctx, ks.Shards(), n, 0).Result()
	if err != nil {
		return 0, fmt.Errorf("%w: record the shard count: %w", ErrUnavailable, err)
	}
	if set {
		return n, nil
	}
	got, ok, err := RecordedShards(ctx, c, ks)
	switch {
	case err != nil:
		return 0, err
	case !ok: // deleted in between: record again
		return RecordShards(ctx, c, ks, n)
	}
	return got, nil
}

// RecordedShards returns the namespace's recorded shard count; ok is false
// when none is recorded yet (no instance of the namespace has started).
func RecordedShards(ctx context.Context, c redis.UniversalClient, ks keys.Space) (n int, ok bool, err error) {
	raw, err := c.Get(ctx, ks.Shards()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%w: read the shard count: %w", ErrUnavailable, err)
	}
	n, err = strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, false, fmt.Errorf("queue: the shard count recorded at %s is not a positive integer: %q", ks.Shards(), raw)
	}
	return n, true, nil
}

// StrayStream is a non-empty shard stream outside the recorded shard count:
// updates no instance reads.
type StrayStream struct {
	Shard  int   `json:"shard"`
	Length int64 `json:"stream_length"`
}

// StrayStreams returns the non-empty update streams of shards numbered
// shards or above, oldest shard first, scanning every master of a Cluster.
func StrayStreams(ctx context.Context, c redis.UniversalClient, ks keys.Space, shards int) ([]StrayStream, error) {
	names, err := redisx.Scan(ctx, c, ks.StreamPattern())
	if err != nil {
		return nil, fmt.Errorf("%w: scan the streams: %w", ErrUnavailable, err)
	}
	var out []StrayStream
	for _, name := range names {
		n, ok := ks.ShardOfKey(name)
		if !ok || n < shards || name != ks.Shard(n).Stream() {
			continue
		}
		length, err := c.XLen(ctx, name).Result()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if length > 0 {
			out = append(out, StrayStream{Shard: n, Length: length})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out, nil
}
