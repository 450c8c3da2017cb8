package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// result of one handler call.
type result struct {
	err     error
	errType string // "" when err is nil
	dur     time.Duration
	started time.Time
	// running is set when the handler had not returned at its deadline: it
	// receives the handler's return.
	running <-chan error
}

func (res result) outcome() string {
	switch res.errType {
	case "":
		return "ok"
	case errTypeTimeout:
		return "timeout"
	case errTypePanic:
		return "panic"
	case errTypeCancelled:
		return "cancelled"
	}
	return "error"
}

// panicError is a recovered handler panic. (The router recovers its
// handlers' panics with their stacks; this is the last resort.)
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("handler panic: %v", e.value) }

// invoke runs the handler in its own goroutine under HandlerTimeout and
// returns at its return or its deadline, whichever comes first.
func (r *run) invoke(ctx context.Context, u *update.Update) result {
	hctx, cancel := context.WithTimeout(ctx, r.p.cfg.HandlerTimeout)
	defer cancel() // after the handler returned or its deadline passed
	start := r.p.cfg.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &panicError{value: v}
			}
		}()
		done <- r.p.cfg.Handler.Handle(hctx, u)
	}()
	returned := func(err error) result {
		return result{err: err, dur: r.p.cfg.Now().Sub(start), started: start, errType: classify(ctx, hctx, err)}
	}
	select {
	case err := <-done:
		return returned(err)
	case <-hctx.Done():
		select {
		case err := <-done: // returned at the same moment: its result counts
			return returned(err)
		default:
		}
	}
	res := result{dur: r.p.cfg.Now().Sub(start), started: start, running: done}
	if errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		res.err = fmt.Errorf("handler did not return within HANDLER_TIMEOUT %s", r.p.cfg.HandlerTimeout)
		res.errType = errTypeTimeout
	} else {
		res.err = fmt.Errorf("handler cancelled: %w", context.Cause(ctx))
		res.errType = errTypeCancelled
	}
	return res
}

// await waits for a handler that outlived its context to return: at most
// AbandonAfter, and at most LeaseEndGrace once the lease's context has
// ended (or until the pool's hard stop). Then its goroutine is abandoned:
// logged (DISPATCH_ABANDONED, HANDLER_ABANDONED) and counted. Until await
// returns, the handler's chat waits, so at most one handler per chat runs
// within that bound, and RunShard waits for the chat.
func (r *run) await(ctx context.Context, running <-chan error, started time.Time) {
	bound := r.p.cfg.AbandonAfter
	why := fmt.Sprintf("running %s past its deadline", bound)
	leaseEnd := r.ctx.Done()
	if r.ctx.Err() != nil {
		bound, leaseEnd = min(bound, r.p.cfg.LeaseEndGrace), nil
		why = fmt.Sprintf("running %s past the lease's end", bound)
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	waitFrom := time.Now()
	for {
		select {
		case <-running:
			return
		case <-leaseEnd:
			leaseEnd = nil
			if left := bound - time.Since(waitFrom); left > r.p.cfg.LeaseEndGrace {
				t.Reset(r.p.cfg.LeaseEndGrace)
				why = fmt.Sprintf("running %s past the lease's end", r.p.cfg.LeaseEndGrace)
			}
			continue
		case <-t.C:
		case <-r.p.hard.Done():
			why = "running when the drain ran out"
		}
		break
	}
	r.p.abandoned.Add(1)
	r.p.cfg.Log.DispatchAbandoned(ctx, r.p.cfg.Now().Sub(started), why, r.shard, r.token)
}
