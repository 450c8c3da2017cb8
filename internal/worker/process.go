package worker

import (
	"context"
	"errors"
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
	ctx = lease.WithTerm(ctx, r.ctx)
	ctx = withDelivery(ctx, e.Deliveries)
	return lease.WithFence(ctx, lease.Fence{Shard: r.q.Keys().Shard(r.shard), Token: r.token})
}

// process takes one entry to its end in this term: acknowledged or
// dead-lettered (true), or left pending (false: stopped, drained, refused).
func (r *run) process(it *item) bool {
	for {
		ctx := r.updateCtx(r.ctx, it.e)
		switch {
		case r.p.hard.Err() != nil:
			return false // drain ran out: left pending, the drain's error says so
		case r.ctx.Err() != nil:
			r.reject(ctx)
			return false
		case it.failed && r.p.isDraining():
			return false // no retries while draining: left pending for the successor
		case it.e.Invalid != nil:
			return r.deadLetter(ctx, it, telemetry.ReasonBadPayload, errTypeBadPay, it.e.Invalid.Error())
		case it.e.Deliveries > int64(r.p.cfg.MaxDeliveries) && !it.failed:
			// taken over beyond the limit (a predecessor's deliveries); a
			// failure of this term decided below whether to go on
			typ, text := it.errType, it.errText
			if typ == "" {
				typ, text = errTypeUnacked, fmt.Sprintf("delivered %d times without an ack", it.e.Deliveries-1)
			}
			return r.deadLetter(ctx, it, telemetry.ReasonMaxDeliveries, typ, text)
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
			return false
		}
		if it.u == nil {
			if ok, settled := r.decode(ctx, it); !ok {
				return settled
			}
		}

		r.p.cfg.Log.DispatchStartAt(ctx, decided, r.shard, r.token)
		res := r.invoke(ctx, it.u)
		r.p.cfg.Metrics.ObserveDispatch(r.label, res.outcome(), res.dur)
		if res.err == nil {
			r.p.cfg.Log.DispatchOK(ctx, res.dur, r.shard, r.token)
			return r.ack(ctx, it)
		}
		r.p.cfg.Log.DispatchFail(ctx, res.dur, res.errType, res.err, r.shard, r.token, it.e.Deliveries)
		r.p.cfg.Metrics.DispatchFailures.WithLabelValues(res.errType).Inc()
		if res.running != nil {
			r.await(ctx, res.running, res.started)
		}
		it.failed, it.errType, it.errText = true, res.errType, telemetry.Shorten(res.err.Error())

		if res.errType == errTypeCancelled {
			continue // stopped under it: the checks above leave it pending, uncounted
		}
		wait := r.p.retryBackoff(it.e.Deliveries)
		if d := retryDelay(res.err); d > 0 {
			// Telegram (or the limiter) asked for a pause: the next delivery
			// is not earlier, and a flood wait gets MaxDeliveries of them
			if it.floodSince.IsZero() {
				it.floodSince = now
			}
			it.floodWait = max(it.floodWait, d)
			wait = max(wait, d)
		} else {
			it.notFlood = true
		}
		if it.e.Deliveries >= int64(r.p.cfg.MaxDeliveries) && !r.floodPatience(it) {
			return r.deadLetter(ctx, it, telemetry.ReasonMaxDeliveries, it.errType, it.errText)
		}
		if !r.pause(wait) {
			continue // stopped or draining: the checks above leave it pending
		}
		e, ok, gone := r.redeliver(ctx, it)
		if !ok {
			return gone
		}
		it.e = e
	}
}

// floodPatience reports whether an update must not be dead-lettered yet
// although it reached MaxDeliveries: every failure of this term was a
// flood wait (a 429's retry_after) and MaxDeliveries times the longest
// wait has not passed since the first one. Telegram's flood waits can
// outlast the retries; they do not make an update undeliverable.
func (r *run) floodPatience(it *item) bool {
	if it.notFlood || it.floodSince.IsZero() {
		return false
	}
	return r.p.cfg.Now().Sub(it.floodSince) < time.Duration(r.p.cfg.MaxDeliveries)*it.floodWait
}

// Throttled is implemented by handler errors that say when the update may
// be tried again: a Bot API 429's retry_after (telegram.APIError), or the
// client's limiter holding the chat back. The next delivery is not earlier.
type Throttled interface {
	error
	RetryDelay() time.Duration
}

// retryDelay returns the delay err asks for, 0 when none.
func retryDelay(err error) time.Duration {
	var t Throttled
	if errors.As(err, &t) {
		return t.RetryDelay()
	}
	return 0
}

// decode decodes an entry's update for its dispatches in this term: once,
// logging DECODE_INCOMPLETE (UNSUPPORTED_PAYLOAD) once when telego could
// not decode all of it, which is no failure. A payload that is not even a
// JSON object (never ingested as such) is dead-lettered at once: ok is
// false then, and settled tells whether the dead letter was written.
func (r *run) decode(ctx context.Context, it *item) (ok, settled bool) {
	env := it.e.Envelope
	u, err := update.Decode(env.Payload, update.Info{UpdateID: env.UpdateID, Type: env.Type, ChatID: env.ChatID,
		UserID: env.UserID})
	if err != nil {
		return false, r.deadLetter(ctx, it, telemetry.ReasonBadPayload, errTypeBadPay, "payload is not an Update: "+err.Error())
	}
	if u.Incomplete != nil {
		r.p.cfg.Log.DecodeIncomplete(ctx, env.Type, u.Incomplete)
	}
	it.u = u
	return true, false
}

// reject logs an entry this run will not dispatch because it is no longer
// ACTIVE for the shard; the entry stays pending for the ACTIVE instance.
func (r *run) reject(ctx context.Context) {
	r.p.cfg.Log.UpdateRejected(ctx, telemetry.ReasonPassiveReject, "Instance not ACTIVE")
	r.p.cfg.Metrics.PassiveRejects.Inc()
}
