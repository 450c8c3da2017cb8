package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// write runs one fenced write for the entry of ctx, retrying while Redis
// fails. Each attempt has its own WriteTimeout context that keeps ctx's
// values but not its cancellation: the fence, not the lease's context,
// decides whether a write after the handler is still allowed. It gives up
// (false) on a fenced refusal (logged as PASSIVE_REJECT, the run stops),
// when the run has stopped after a failed attempt, or on the pool's hard
// stop.
func (r *run) write(ctx context.Context, what string, f func(ctx context.Context) error) bool {
	base := context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(base, r.p.cfg.WriteTimeout)
		stop := context.AfterFunc(r.p.hard, cancel)
		err := f(wctx)
		stop()
		cancel()
		switch {
		case err == nil:
			return true
		case errors.Is(err, lease.ErrFenced):
			r.reject(ctx)
			r.cancel()
			return false
		case r.p.hard.Err() != nil:
			return false
		}
		r.redisError(what, err)
		if r.ctx.Err() != nil {
			return false // not ACTIVE any more: the successor takes the entry over
		}
		// unlike pause, Drain does not end this wait: in-hand writes must finish
		t := time.NewTimer(r.p.redisBackoff(attempt))
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// ack acknowledges the entry (and deletes it from the stream); false when
// the run may not write any more (the entry stays pending). It returns
// once the ack is confirmed, so the chat's next entry starts after it: acks
// of other chats made meanwhile share its round trip (queue.Acker).
func (r *run) ack(ctx context.Context, it *item) bool {
	return r.write(ctx, "ack", func(wctx context.Context) error {
		return r.acks.Ack(wctx, it.e.ID)
	})
}

// deadLetter moves the entry to the dead-letter stream and logs it; false
// when the run may not write any more (the entry stays pending).
func (r *run) deadLetter(ctx context.Context, it *item, reason telemetry.Reason, errType, text string) bool {
	f := queue.Failure{Reason: string(reason), ErrorType: errType, Error: text, Deliveries: it.e.Deliveries,
		Instance: r.p.cfg.Instance}
	if it.e.Deliveries > int64(r.p.cfg.MaxDeliveries) {
		f.Deliveries-- // the claim that found it over the limit delivered nothing
	}
	ok := r.write(ctx, "dead-letter", func(wctx context.Context) error {
		_, err := r.q.DeadLetter(wctx, r.shard, r.token, it.e.ID, f)
		return err
	})
	if !ok {
		return false
	}
	r.p.cfg.Log.DeadLettered(ctx, r.shard, f.Deliveries, reason, errType+": "+text)
	r.p.cfg.Metrics.DeadLetters.Inc()
	if !it.failed { // no dispatch of this term, so no handler's guard answered it
		r.answerDeadLetter(ctx, it, reason)
	}
	return true
}

// answerDeadLetter answers a callback_query this instance dead-lettered
// without dispatching it, so the user's spinner stops: the entry is gone
// from the stream, no other instance will. SILENCE_WARNING says so. The
// call has its own WriteTimeout context (the lease may have ended since:
// the dead letter was written under the fence, so nobody else answers).
func (r *run) answerDeadLetter(ctx context.Context, it *item, reason telemetry.Reason) {
	if r.p.cfg.AnswerCallback == nil || it.e.Envelope.Type != "callback_query" {
		return
	}
	var u struct {
		CallbackQuery *struct {
			ID string `json:"id"`
		} `json:"callback_query"`
	}
	if json.Unmarshal(it.e.Envelope.Payload, &u) != nil || u.CallbackQuery == nil || u.CallbackQuery.ID == "" {
		return // not even its id can be read: nothing to answer
	}
	r.p.cfg.Log.SilenceWarning(ctx, "callback dead-lettered ("+string(reason)+") without a dispatch; answered by the instance that moved it")
	r.p.cfg.Metrics.SilenceWarnings.Inc()
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.p.cfg.WriteTimeout)
	defer cancel()
	defer context.AfterFunc(r.p.hard, cancel)()
	if err := r.p.cfg.AnswerCallback(actx, u.CallbackQuery.ID, ""); err == nil {
		r.p.cfg.Metrics.CallbackAnswers.WithLabelValues(metrics.AnsweredByGuard).Inc()
	}
}

// redeliver takes the entry back for another delivery; ok is false when it
// is gone (gone: nothing to keep pending) or the run may not write any more.
func (r *run) redeliver(ctx context.Context, it *item) (e queue.Entry, ok, gone bool) {
	var found bool
	wrote := r.write(ctx, "redeliver", func(wctx context.Context) error {
		var err error
		e, found, err = r.q.Redeliver(wctx, r.shard, r.token, r.p.cfg.Instance, it.e.ID)
		return err
	})
	return e, wrote && found, wrote && !found
}
