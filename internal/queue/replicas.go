package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is returned by Enqueue when Options.WaitReplicas is set
// and fewer replicas than asked acknowledged the append within WaitTimeout.
// Redis answered: the entry is on the master's stream (it will be
// dispatched) but not yet known to be on a replica, so the update must not
// be answered 200: Telegram resends it, and the resend (a duplicate) waits
// for the replicas again. It does not wrap ErrUnavailable.
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

// NotReplicatedError is the ErrNotReplicated of one append: how many
// replicas acknowledged it within how long.
type NotReplicatedError struct {
	Acked, Want int
	Within      time.Duration
}

func (e *NotReplicatedError) Error() string {
	return fmt.Sprintf("%v: %d of %d within %s", ErrNotReplicated, e.Acked, e.Want, e.Within)
}

// Is makes errors.Is(err, ErrNotReplicated) true.
func (e *NotReplicatedError) Is(target error) bool { return target == ErrNotReplicated }

func notReplicated(acked int64, want int, within time.Duration) error {
	return &NotReplicatedError{Acked: int(acked), Want: want, Within: within}
}
