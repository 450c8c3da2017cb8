package worker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// Error types the worker names itself (errtype.go classifies the rest).
const (
	errTypeTimeout   = string(telemetry.ErrTypeTimeout)
	errTypePanic     = string(telemetry.ErrTypePanic)
	errTypeCancelled = string(telemetry.ErrTypeCancelled)
	errTypeUnacked   = string(telemetry.ErrTypeUnacked)
	errTypeBadPay    = string(telemetry.ErrTypeBadPayload)
)

// updateCtx returns ctx carrying the entry's identity and the run's fence.
func (r *run) updateCtx(ctx context.Context, e queue.Entry) context.Context {
	env := e.Envelope
	ctx = telemetry.WithUpdate(ctx, telemetry.Update{CID: env.CID, UpdateID: env.UpdateID, Type: env.Type,
		UserID: env.UserID, ChatID: env.ChatID, Shard: r.shard})
	return lease.WithFence(ctx, lease.Fence{Shard: r.q.Keys().Shard(r.shard), Token: r.token})
}

// process takes one entry to its end in this term: acknowledged,
// dead-lettered, or left pending (stopped, drained, refused).
func (r *run) process(it *item) {
	for {
		ctx := r.updateCtx(r.ctx, it.e)
		switch {
		case r.p.hard.Err() != nil:
			return // drain ran out: left pending, the drain's error says so
		case r.ctx.Err() != nil:
			r.reject(ctx)
			return
		case it.failed && r.p.isDraining():
			return // no retries while draining: left pending for the successor
		case it.e.Invalid != nil:
			r.deadLetter(ctx, it, telemetry.ReasonBadPayload, errTypeBadPay, it.e.Invalid.Error())
			return
		case it.e.Deliveries > int64(r.p.cfg.MaxDeliveries):
			typ, text := it.errType, it.errText
			if typ == "" {
				typ, text = errTypeUnacked, fmt.Sprintf("delivered %d times without an ack", it.e.Deliveries-1)
			}
			r.deadLetter(ctx, it, telemetry.ReasonMaxDeliveries, typ, text)
			return
		}

		now := r.p.cfg.Now()
		r.p.cfg.Log.QueuePick(ctx, "w"+strconv.Itoa(it.slot), r.shard, it.e.Deliveries, now.Sub(it.e.EnqueuedAt()))
		r.p.cfg.Metrics.ObserveWait(r.label, now.Sub(it.e.EnqueuedAt()))
		// DISPATCH_START is dated before the lease check: were the process
		// paused between the check and the write, the line would otherwise
		// show a start under this token after a successor's first one.
		decided := time.Now()
		if !r.p.cfg.Leadership.Valid(r.shard, r.token) {
			r.reject(ctx)
			r.cancel()
			return
		}
		if it.u == nil && !r.decode(ctx, it) {
			return
		}

		r.p.cfg.Log.DispatchStartAt(ctx, decided, r.shard, r.token)
		res := r.invoke(ctx, it.u)
		r.p.cfg.Metrics.ObserveDispatch(r.label, res.outcome(), res.dur)
		if res.err == nil {
			r.p.cfg.Log.DispatchOK(ctx, res.dur, r.shard, r.token)
			r.ack(ctx, it)
			return
		}
		r.p.cfg.Log.DispatchFail(ctx, res.dur, res.errType, res.err, r.shard, r.token, it.e.Deliveries)
		r.p.cfg.Metrics.DispatchFailures.WithLabelValues(res.errType).Inc()
		if res.running != nil {
			r.await(res.running)
		}
		it.failed, it.errType, it.errText = true, res.errType, telemetry.Shorten(res.err.Error())

		if res.errType == errTypeCancelled {
			continue // stopped under it: the checks above leave it pending, uncounted
		}
		if it.e.Deliveries >= int64(r.p.cfg.MaxDeliveries) {
			r.deadLetter(ctx, it, telemetry.ReasonMaxDeliveries, it.errType, it.errText)
			return
		}
		if !r.pause(r.p.retryBackoff(it.e.Deliveries)) {
			continue // stopped or draining: the checks above leave it pending
		}
		e, ok := r.redeliver(ctx, it)
		if !ok {
			return
		}
		it.e = e
	}
}

// decode decodes an entry's update for its dispatches in this term: once,
// logging DECODE_INCOMPLETE (UNSUPPORTED_PAYLOAD) once when telego could
// not decode all of it, which is no failure. A payload that is not even a
// JSON object (never ingested as such) is dead-lettered at once.
func (r *run) decode(ctx context.Context, it *item) bool {
	env := it.e.Envelope
	u, err := update.Decode(env.Payload, update.Info{UpdateID: env.UpdateID, Type: env.Type, ChatID: env.ChatID,
		UserID: env.UserID})
	if err != nil {
		r.deadLetter(ctx, it, telemetry.ReasonBadPayload, errTypeBadPay, "payload is not an Update: "+err.Error())
		return false
	}
	if u.Incomplete != nil {
		r.p.cfg.Log.DecodeIncomplete(ctx, env.Type, u.Incomplete)
	}
	it.u = u
	return true
}

// reject logs an entry this run will not dispatch because it is no longer
// ACTIVE for the shard; the entry stays pending for the ACTIVE instance.
func (r *run) reject(ctx context.Context) {
	r.p.cfg.Log.UpdateRejected(ctx, telemetry.ReasonPassiveReject, "Instance not ACTIVE")
	r.p.cfg.Metrics.PassiveRejects.Inc()
}
