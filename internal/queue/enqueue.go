package queue

import (
	"context"
	"fmt"
)

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	// Duplicate is true when the update_id was seen within the dedupe
	// window: nothing was appended (answer 200 all the same).
	Duplicate bool
	// Depth is the shard stream's length after the call.
	Depth int64
	// ID is the new entry's stream id; empty for a duplicate.
	ID string
}

// Enqueue appends e to shard e.Shard in one Lua call: a repeat of an
// update_id within DedupeWindow is reported as Duplicate and not appended; a
// stream already holding MaxBacklog entries gives ErrBacklogFull and nothing
// is written; otherwise the entry is appended and the update_id remembered
// for DedupeWindow. Any Redis failure gives an error wrapping ErrUnavailable
// (the append is then unconfirmed: the update must not be answered 200).
//
// With Options.WaitReplicas, an append or a duplicate is confirmed only once
// that many replicas acknowledged it (ErrNotReplicated otherwise).
//
// Enqueue logs nothing; the caller logs QUEUE_ENQUEUE or DUPLICATE_UPDATE.
func (q *Queue) Enqueue(ctx context.Context, e Envelope) (EnqueueResult, error) {
	k, err := q.shard(e.Shard)
	if err != nil {
		return EnqueueResult{}, err
	}
	window := q.opts.DedupeWindow.Milliseconds()
	if q.opts.DedupeWindow > 0 && window == 0 {
		window = 1
	}
	args := append([]any{window, q.opts.MaxBacklog}, e.fields()...)
	keys := []string{k.Stream(), k.Seen(e.UpdateID)}
	var res []any
	acked := int64(-1)
	if q.opts.WaitReplicas > 0 {
		res, acked, err = q.runReplicated(ctx, keys, args)
	} else {
		res, err = enqueueScript.Run(ctx, q.c, keys, args...).Slice()
	}
	if err != nil {
		return EnqueueResult{}, mapErr(ctx, err)
	}
	if len(res) != 3 {
		return EnqueueResult{}, fmt.Errorf("%w: unexpected enqueue reply %v", ErrUnavailable, res)
	}
	status, _ := res[0].(int64)
	depth, _ := res[1].(int64)
	id, _ := res[2].(string)
	if status == 2 {
		return EnqueueResult{Depth: depth}, fmt.Errorf("%w: shard %d holds %d entries (MAX_BACKLOG %d)",
			ErrBacklogFull, e.Shard, depth, q.opts.MaxBacklog)
	}
	if acked >= 0 && acked < int64(q.opts.WaitReplicas) {
		return EnqueueResult{Depth: depth}, notReplicated(acked, q.opts.WaitReplicas)
	}
	if status == 1 {
		return EnqueueResult{Duplicate: true, Depth: depth}, nil
	}
	return EnqueueResult{Depth: depth, ID: id}, nil
}
