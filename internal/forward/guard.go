package forward

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// guardTimeout bounds the guard's own answer.
const guardTimeout = 10 * time.Second

// guard answers callback query id SilenceAfter from now unless the bot has
// answered it by then (the proxy records every answer in the tracker).
func (f *Forwarder) guard(e *entry, id telemetry.Update, callback string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	var t *time.Timer
	f.wg.Add(1)
	t = time.AfterFunc(f.cfg.SilenceAfter, func() {
		defer f.wg.Done()
		f.mu.Lock()
		delete(f.timers, t)
		f.mu.Unlock()
		f.silent(e, id, callback)
	})
	f.timers[t] = struct{}{}
}

// silent answers an unanswered callback, if this instance still leads its
// shard (otherwise its new leader delivers it again and guards it).
func (f *Forwarder) silent(e *entry, id telemetry.Update, callback string) {
	if f.cfg.Tracker.answered(e) || f.base.Err() != nil {
		return
	}
	if _, err := f.cfg.Leadership.Token(id.Shard); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(telemetry.WithUpdate(f.base, id), guardTimeout)
	defer cancel()
	f.cfg.Log.SilenceWarning(ctx, "the upstream bot did not answer the callback within UPSTREAM_SILENCE_AFTER "+
		f.cfg.SilenceAfter.String()+": the dispatcher answers it")
	params, _ := json.Marshal(map[string]string{"callback_query_id": callback})
	f.cfg.Caller.Call(ctx, "answerCallbackQuery", params)
}
