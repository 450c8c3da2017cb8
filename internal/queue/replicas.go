package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is wrapped (with ErrUnavailable) by Enqueue when
// Options.WaitReplicas is set and fewer replicas than asked acknowledged the
// append within WaitTimeout. The entry is on the master but not yet known to
// be on a replica, so the update must not be answered 200: Telegram resends
// it, and the resend (a duplicate) waits for the replicas again.
var ErrNotReplicated = errors.New("queue: append not acknowledged by enough replicas")

// runReplicated runs the enqueue script and WAIT on one connection of the
// shard's master (WAIT counts the writes of its own connection), and
// returns the script's reply and how many replicas acknowledged.
func (q *Queue) runReplicated(ctx context.Context, keys []string, args []any) ([]any, int64, error) {
	node, err := q.masterFor(ctx, keys[0])
	if err != nil {
		return nil, 0, err
	}
	run := func(sha bool) ([]any, int64, error) {
		var script *redis.Cmd
		var wait *redis.Cmd
		_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			if sha {
				script = enqueueScript.EvalSha(ctx, p, keys, args...)
			} else {
				script = enqueueScript.Eval(ctx, p, keys, args...)
			}
			wait = p.Do(ctx, "WAIT", q.opts.WaitReplicas, q.opts.WaitTimeout.Milliseconds())
			return nil
		})
		if err != nil && script.Err() == nil && wait.Err() == nil {
			return nil, 0, err
		}
		if script.Err() != nil {
			return nil, 0, script.Err()
		}
		res, err := script.Slice()
		if err != nil {
			return nil, 0, err
		}
		acked, err := wait.Int64()
		return res, acked, err
	}
	res, acked, err := run(true)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		res, acked, err = run(false)
	}
	return res, acked, err
}

// masterFor returns a client whose pipelines reach the master serving key:
// the cluster node of its slot, or the client itself.
func (q *Queue) masterFor(ctx context.Context, key string) (redis.Cmdable, error) {
	if cc, ok := q.c.(*redis.ClusterClient); ok {
		return cc.MasterForKey(ctx, key)
	}
	return q.c, nil
}

func notReplicated(acked int64, want int) error {
	return fmt.Errorf("%w: %w: %d of %d replicas acknowledged", ErrUnavailable, ErrNotReplicated, acked, want)
}
