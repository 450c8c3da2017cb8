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
	// OriginalCID is, for a duplicate, the cid of the update_id's first
	// ingest (kept in the dedupe marker); empty when the marker predates
	// markers that keep it.
	OriginalCID string
}

// Enqueue appends e to shard e.Shard in one Lua call: a repeat of an
// update_id within DedupeWindow is reported as Duplicate and not appended; a
// stream already holding MaxBacklog entries gives ErrBacklogFull and nothing
// is written; otherwise the entry is appended and the update_id remembered
// for DedupeWindow. Any Redis failure gives an error wrapping ErrUnavailable
// (the append is then unconfirmed: the update must not be answered 200).
//
// With Options.WaitReplicas, an append or a duplicate is confirmed only once
// that many replicas acknowledged it; a duplicate's call then writes too (it
// refreshes its marker's expiry), so its WAIT covers the original append
// whatever connection made it and whatever the Redis version (7.2+ counts a
// connection's offset only from its own writes). Otherwise the error is ErrNotReplicated
// and the result says what the master did (ID set: the entry is on the
// stream and will be dispatched; Duplicate: an earlier append is).
//
// Enqueue logs nothing; the caller logs QUEUE_ENQUEUE or DUPLICATE_UPDATE.
func (q *Queue) Enqueue(ctx context.Context, e Envelope) (EnqueueResult, error) {
	return q.enqueue(ctx, e, 0)
}

// EnqueuePolled is Enqueue for the poller (INGEST=poll) holding the poll
// lease under token: the append is refused, with an error matching
// lease.ErrFenced and nothing written, when a poller with a larger token
// has claimed the shard (ClaimPollFence, or an append of its own), so a
// stale poller that wakes up cannot append what its successor already did.
// A token above the shard's fence raises it.
func (q *Queue) EnqueuePolled(ctx context.Context, e Envelope, token int64) (EnqueueResult, error) {
	if token <= 0 {
		return EnqueueResult{}, fmt.Errorf("queue: poll token must be positive, got %d", token)
	}
	return q.enqueue(ctx, e, token)
}

// ClaimPollFence raises every shard's poll fence to token: from its return
// on, appends of pollers with lower tokens are refused. A new poller calls
// it before its first getUpdates. It returns an error matching
// lease.ErrFenced when some shard was already claimed by a larger token
// (this poller is stale), and one wrapping ErrUnavailable when Redis did not
// answer (shards before the failing one may be raised already).
func (q *Queue) ClaimPollFence(ctx context.Context, token int64) error {
	for n := 0; n < q.opts.Shards; n++ {
		if err := pollFenceScript.Run(ctx, q.c, []string{q.ks.Shard(n).PollFence()}, token).Err(); err != nil {
			return mapErr(ctx, err)
		}
	}
	return nil
}

func (q *Queue) enqueue(ctx context.Context, e Envelope, pollToken int64) (EnqueueResult, error) {
	call, err := q.enqueueCall([]Envelope{e}, pollToken)
	if err != nil {
		return EnqueueResult{}, err
	}
	res, acked, err := q.runEnqueue(ctx, call)
	return q.enqueueReply(ctx, e, entryReply(res, 0), err, acked)
}

// runEnqueue runs one enqueue script call and returns its reply and, with
// Options.WaitReplicas, how many replicas acknowledged it (-1: no WAIT).
func (q *Queue) runEnqueue(ctx context.Context, call scriptCall) (res []any, acked int64, err error) {
	if q.opts.WaitReplicas > 0 {
		return q.runReplicated(ctx, call.keys, call.args)
	}
	res, err = enqueueScript.Run(ctx, q.c, call.keys, call.args...).Slice()
	return res, -1, err
}

// scriptCall is one call of a script: its keys and arguments.
type scriptCall struct {
	keys []string
	args []any
}

// enqueueCall returns the enqueue script's call that appends es, in this
// order, to their shard (every one of es must be of the same shard).
func (q *Queue) enqueueCall(es []Envelope, pollToken int64) (scriptCall, error) {
	if len(es) == 0 {
		return scriptCall{}, fmt.Errorf("queue: nothing to enqueue")
	}
	k, err := q.shard(es[0].Shard)
	if err != nil {
		return scriptCall{}, err
	}
	window := q.opts.DedupeWindow.Milliseconds()
	if q.opts.DedupeWindow > 0 && window == 0 {
		window = 1
	}
	touch := "0" // a duplicate writes only when a WAIT follows: see enqueue.lua
	if q.opts.WaitReplicas > 0 {
		touch = "1"
	}
	format := q.Format()
	for _, e := range es {
		if e.Shard != es[0].Shard {
			return scriptCall{}, fmt.Errorf("queue: one enqueue call for shards %d and %d", es[0].Shard, e.Shard)
		}
		if !e.packable() {
			format = FormatFields
		}
	}
	c := scriptCall{keys: make([]string, 2, 2+len(es)), args: make([]any, 5, 5+len(es)*envelopeValues(format))}
	c.keys[0], c.keys[1] = k.Stream(), k.PollFence()
	c.args[0], c.args[1], c.args[2], c.args[3], c.args[4] = window, q.opts.MaxBacklog, pollToken, touch, format
	for _, e := range es {
		c.keys = append(c.keys, k.Seen(e.UpdateID))
		c.args = e.appendValues(c.args, format)
	}
	return c, nil
}

// entryReply returns entry i's part of the enqueue script's reply (nil
// when the reply is too short: enqueueReply says so).
func entryReply(res []any, i int) []any {
	if len(res) < 4*(i+1) {
		return nil
	}
	return res[4*i : 4*i+4]
}

// enqueueReply turns the enqueue script's reply (or error) for e, and the
// replicas a following WAIT counted (-1: no WAIT), into Enqueue's result.
func (q *Queue) enqueueReply(ctx context.Context, e Envelope, res []any, err error, acked int64) (EnqueueResult, error) {
	if err != nil {
		return EnqueueResult{}, mapErr(ctx, err)
	}
	if len(res) != 4 {
		return EnqueueResult{}, fmt.Errorf("%w: unexpected enqueue reply %v", ErrUnavailable, res)
	}
	status, _ := res[0].(int64)
	depth, _ := res[1].(int64)
	id, _ := res[2].(string)
	original, _ := res[3].(string)
	if status == 2 {
		return EnqueueResult{Depth: depth}, fmt.Errorf("%w: shard %d holds %d entries (MAX_BACKLOG %d)",
			ErrBacklogFull, e.Shard, depth, q.opts.MaxBacklog)
	}
	r := EnqueueResult{Depth: depth, ID: id}
	if status == 1 {
		r = EnqueueResult{Duplicate: true, Depth: depth, OriginalCID: originalCID(original)}
	}
	if acked >= 0 && acked < int64(q.opts.WaitReplicas) {
		return r, notReplicated(acked, q.opts.WaitReplicas, q.opts.WaitTimeout)
	}
	return r, nil
}

// originalCID returns a dedupe marker's value when it is a cid ("" for the
// "1" of markers written before markers kept the cid).
func originalCID(marker string) string {
	if len(marker) != 8 {
		return ""
	}
	for i := 0; i < len(marker); i++ {
		if c := marker[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return marker
}
