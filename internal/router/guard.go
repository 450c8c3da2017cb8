package router

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// PanicError is returned by Handle for a handler that panicked: the value
// and the goroutine's stack. errors.Is(err, ErrHandlerPanic) is true.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("router: handler panicked: %v", p.Value) }

// Is makes errors.Is(err, ErrHandlerPanic) true.
func (p *PanicError) Is(target error) bool { return target == ErrHandlerPanic }

// ErrorType names the failure for DISPATCH_FAIL's error_type (see
// worker.ErrorTyper): HANDLER_PANIC.
func (p *PanicError) ErrorType() string { return string(telemetry.ReasonHandlerPanic) }

// run runs a route's handler with the admin check, panic recovery and the
// context's deadline. It returns only once the handler has returned: when
// the context ends first (the deadline, or the end of the lease), the
// outcome is logged and the user told at once (for a callback, by the
// guard), and run then waits for the handler, so that the worker, which
// bounds that wait (worker.Config.AbandonAfter and LeaseEndGrace), never
// starts the chat's next dispatch beside it.
func (r *Router) run(c *Ctx, rt *route) error {
	if rt.admin && !r.admins(c.UserID()) {
		c.Reject(telemetry.ReasonForbidden, TextForbidden, "", "")
		return nil
	}
	h := rt.h
	if r.wrap != nil {
		h = r.wrap(h)
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- &PanicError{Value: p, Stack: debug.Stack()}
			}
		}()
		done <- h(c)
	}()
	select {
	case err := <-done:
		return r.finish(c, err)
	case <-c.Done():
	}
	select {
	case err := <-done: // returned at the same moment: its result counts
		return r.finish(c, err)
	default:
	}
	// the handler ignores its context: answer for it now, then wait
	err := r.finish(c, c.Err())
	if c.IsCallback() {
		r.guard(c)
		c.mu.Lock()
		c.guarded = true
		c.mu.Unlock()
	}
	<-done
	return err
}

// finish turns a handler's error into the contract's reason codes and the
// error Handle returns.
func (r *Router) finish(c *Ctx, err error) error {
	if err == nil {
		return nil
	}
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		c.refuse(telemetry.ReasonHandlerPanic, fmt.Sprintf("panic: %v", pe.Value), TextServerError, "", "", !c.IsCallback(), true)
		// the stack, for debug mode only (the worker logs its stacks the same way)
		r.log.Debug(c, telemetry.EvDispatchFail, zap.String(telemetry.FErrorType, string(telemetry.ReasonHandlerPanic)),
			zap.ByteString("stack", pe.Stack))
		return pe
	case errors.Is(err, lease.ErrFenced):
		c.passive(TextNotActive)
		return err
	case errors.Is(c.Err(), context.DeadlineExceeded):
		// a reply to a message is made with the guard's fresh context
		c.refuse(telemetry.ReasonHandlerTimeout, "handler passed its deadline", TextServerError, "", "", false, true)
		if !c.IsCallback() {
			r.afterDeadline(c, func(ctx context.Context) { _, _ = c.replyIn(ctx, TextServerError, nil) })
		}
		return errors.Join(ErrHandlerTimeout, err)
	case errors.Is(c.Err(), context.Canceled):
		// leadership ended or the instance stops: the update stays in the
		// stream for the ACTIVE instance, which answers it
		c.passive("Dispatch cancelled: " + TextNotActive)
		return errors.Join(ErrCanceled, err)
	}
	return err
}

// afterDeadline runs f with a fresh context bounded by GuardTimeout that
// keeps the update's identity and answer tracker. It ends with the lease
// too (lease.TermFrom): once a successor may dispatch the update, this
// instance tells its user nothing more.
func (r *Router) afterDeadline(c *Ctx, f func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context), r.guardTimeout)
	defer cancel()
	if term := lease.TermFrom(c); term != nil {
		defer context.AfterFunc(term, cancel)()
	}
	f(ctx)
}

// guard checks that a callback dispatch logged a result and answered the
// query (an answer Telegram refused does not count); when not, it logs
// SILENCE_WARNING and answers it: once more with the handler's own text
// when the handler's answer failed.
func (r *Router) guard(c *Ctx) {
	c.mu.Lock()
	guarded := c.guarded
	c.mu.Unlock()
	if guarded || c.isPassive() {
		return // done at the deadline, or the ACTIVE instance answers it
	}
	o, text := c.result()
	answered := telegram.Answered(c, c.Query.ID)
	if answered && o != outcomeNone {
		return
	}
	failedText, failed := telegram.AnswerFailed(c, c.Query.ID)
	why := "callback ended with no ACCEPTED/REJECTED event"
	switch {
	case failed && o == outcomeNone:
		why = "callback ended with no ACCEPTED/REJECTED event and its answerCallbackQuery failed"
	case failed:
		why = "callback's answerCallbackQuery failed"
	case !answered && o == outcomeNone:
		why = "callback ended with no ACCEPTED/REJECTED event and no answerCallbackQuery"
	case !answered:
		why = "callback ended with no answerCallbackQuery"
	}
	r.log.SilenceWarning(c, why)
	r.metrics.SilenceWarnings.Inc()
	if answered {
		return
	}
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	routerRefusal := reason == telemetry.ReasonUnknownAction || reason == telemetry.ReasonHandlerPanic ||
		reason == telemetry.ReasonHandlerTimeout
	// a failed answer is tried once more, with its own text, whatever
	// SILENCE_GUARD says: the handler did answer
	if !r.silenceGuard && !routerRefusal && !failed {
		return
	}
	switch {
	case failed && !routerRefusal:
		text = failedText
	case o == outcomeNone && text == "":
		text = TextServerError
	}
	r.afterDeadline(c, func(ctx context.Context) {
		if err := r.tg.AnswerCallback(ctx, c.Query.ID, text); err == nil {
			r.metrics.CallbackAnswers.WithLabelValues("guard").Inc()
		}
	})
}
