package bot

import (
	"context"
	"errors"

	"github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
)

// Keys of fsm.State.Values.
const (
	vCategory   = "category"
	vModel      = "model"
	vPrompt     = "prompt"
	vStep       = "step"   // on PARAM_INPUT: stepPrompt or a parameter id
	vJob        = "job_id" // on MAIN_MENU after a confirm
	paramPrefix = "param." // + parameter id: the picked option
	stepPrompt  = "prompt" // the step that asks for the prompt text
	noScreen    = "NONE"   // actual_state of a user with no state
	minPrompt   = 5        // runes, CONTRACT §6
	maxPrompt   = 1000     // runes
	maxRetries  = 3        // compare-and-set attempts for a text
)

func keyOf(c *router.Ctx) fsm.Key { return fsm.Key{ChatID: c.ChatID(), UserID: c.UserID()} }

// storeFailed ends a dispatch whose Redis call failed: a fenced refusal and
// an expired context go back to the router (PASSIVE_REJECT, HANDLER_TIMEOUT);
// anything else is DB_ERROR, told to the user.
func (b *Bot) storeFailed(c *router.Ctx, err error) error {
	if errors.Is(err, lease.ErrFenced) || c.Err() != nil {
		return err
	}
	if errors.Is(err, fsm.ErrJobsFull) && b.metrics != nil {
		b.metrics.JobsRefused.Inc() // DB_ERROR with the error's text; not retried: it would be refused again
	}
	c.Fail(telemetry.ReasonDBError, err, router.TextServerError)
	return nil
}

// catalogFailed ends a dispatch whose catalog lookup failed with DB_ERROR.
func (b *Bot) catalogFailed(c *router.Ctx, err error) error {
	c.Fail(telemetry.ReasonDBError, err, router.TextServerError)
	return nil
}

// telegramFailed returns err when the failed Bot API call is worth a
// redelivery (Telegram unavailable, deadline); other failures were logged
// as TELEGRAM_API_ERROR by the client and end the dispatch.
func telegramFailed(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if telegram.IsRetryable(err) || ctx.Err() != nil {
		return err
	}
	return nil
}

// button loads the state for a callback and checks that the button was
// rendered for this user (the tag's owner code, FORBIDDEN otherwise) at it
// (screen and revision from the data's tag). ok is false
// when the dispatch already ended: refused, failed or replayed.
func (b *Bot) button(c *router.Ctx) (st fsm.State, ok bool, err error) {
	if owner, bound := ui.TagOwner(c.Data.Tag); bound && owner != ui.OwnerCode(c.UserID()) {
		// a menu made for another user (a group shows everybody's): it
		// acts for nobody else, whatever the presser's own state is
		c.Reject(telemetry.ReasonForbidden, textNotYourMenu, "", "")
		return st, false, nil
	}
	st, err = b.store.Get(c, keyOf(c))
	if err != nil {
		return st, false, b.storeFailed(c, err)
	}
	screen, rev, tagged := ui.ParseTag(c.Data.Tag)
	if tagged && ui.Allows(screen, c.Data.Action) && st.Screen == screen && st.Rev == rev {
		return st, true, nil
	}
	if st.UpdateID != 0 && st.UpdateID == c.ID.UpdateID {
		return st, false, b.replay(c, st) // this update's own write, delivered again
	}
	if !tagged || !ui.Allows(screen, c.Data.Action) {
		screen = ""
		if s := ui.ScreensOf(c.Data.Action); len(s) > 0 {
			screen = s[0]
		}
	}
	b.mismatch(c, screen, st.Screen)
	return st, false, nil
}

// mismatch refuses a button of a screen the user has left.
func (b *Bot) mismatch(c *router.Ctx, expected, actual telemetry.ScreenID) {
	if actual == "" {
		actual = noScreen
	}
	if expected == "" {
		expected = noScreen
	}
	c.Reject(telemetry.ReasonStateMismatch, router.TextExpired, expected, actual)
}

// commit writes next over st (with job, if any). ok is false when the
// dispatch already ended: refused, failed or replayed.
func (b *Bot) commit(c *router.Ctx, st, next fsm.State, job *fsm.Job) (saved fsm.State, streamID string, ok bool, err error) {
	saved, streamID, err = b.store.Commit(c, keyOf(c), st.Rev, next, job)
	if err == nil {
		return saved, streamID, true, nil
	}
	if cur, stale := fsm.IsStale(err); stale {
		if cur.UpdateID != 0 && cur.UpdateID == c.ID.UpdateID {
			return cur, "", false, b.replay(c, cur)
		}
		b.mismatch(c, st.Screen, cur.Screen)
		return cur, "", false, nil
	}
	return fsm.State{}, "", false, b.storeFailed(c, err)
}

// move commits next over st and shows it, answering a callback with answer.
func (b *Bot) move(c *router.Ctx, st, next fsm.State, answer string) error {
	v, err := b.view(next)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	saved, _, ok, err := b.commit(c, st, next, nil)
	if !ok {
		return err
	}
	return b.shown(c, saved, v, answer)
}

// shown logs the ACCEPTED event, shows the screen and then answers a
// callback, so that the chain reads ACCEPTED → UI_RENDER →
// ANSWER_CALLBACK_QUERY (CONTRACT §5). The answer is sent even when the
// screen could not be shown, so the user's spinner always stops.
func (b *Bot) shown(c *router.Ctx, st fsm.State, v view, answer string) error {
	c.Accept(st.Screen)
	err := b.deliver(c, st, v)
	if c.IsCallback() {
		_ = c.Answer(answer)
	}
	return err
}

// replay shows the state an earlier delivery of this update wrote.
func (b *Bot) replay(c *router.Ctx, st fsm.State) error {
	v, err := b.view(st)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	answer := ""
	if id := st.Get(vJob); id != "" && st.Screen == ui.MainMenu {
		answer = jobQueuedText(id)
	}
	return b.shown(c, st, v, answer)
}
