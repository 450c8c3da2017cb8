package menubot

import (
	"context"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
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

// get reads the user's state from the bot's store (Options.Store) or the
// instance's.
func (b *Bot) get(c *dispatcher.Context) (fsm.State, error) {
	if b.store != nil {
		return b.store.Get(c, c.ChatID(), c.UserID())
	}
	return c.State()
}

// write commits next over revision expected, with job (if any).
func (b *Bot) write(c *dispatcher.Context, expected int64, next fsm.State, job *fsm.Job) (fsm.State, string, error) {
	if b.store != nil {
		return b.store.Commit(c, c.ChatID(), c.UserID(), expected, next, job)
	}
	return c.Commit(expected, next, job)
}

// storeFailed ends a dispatch whose Redis call failed: a fenced refusal and
// an expired context go back to the router (PASSIVE_REJECT, HANDLER_TIMEOUT);
// anything else is DB_ERROR, told to the user (a full jobs stream too,
// with the error's text: it is not retried, it would be refused again).
func (b *Bot) storeFailed(c *dispatcher.Context, err error) error {
	if dispatcher.IsNotActive(err) || c.Err() != nil {
		return err
	}
	c.Reject(dispatcher.ReasonDBError, dispatcher.TextServerError, dispatcher.Cause(err))
	return nil
}

// catalogFailed ends a dispatch whose catalog lookup failed with DB_ERROR.
func (b *Bot) catalogFailed(c *dispatcher.Context, err error) error {
	c.Reject(dispatcher.ReasonDBError, dispatcher.TextServerError, dispatcher.Cause(err))
	return nil
}

// telegramFailed returns err when the failed Bot API call is worth a
// redelivery (Telegram unavailable, deadline); other failures were logged
// as TELEGRAM_API_ERROR by the client and end the dispatch.
func telegramFailed(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if dispatcher.IsRetryable(err) || ctx.Err() != nil {
		return err
	}
	return nil
}

// data is the pressed button's callback data (the router parsed it
// already to route it, so it parses).
func data(c *dispatcher.Context) callback.Data {
	d, _ := callback.Parse(c.CallbackData())
	return d
}

// button loads the state for a callback and checks that the button was
// rendered for this user (the tag's owner code, FORBIDDEN otherwise) at it
// (screen and revision from the data's tag). ok is false
// when the dispatch already ended: refused, failed or replayed.
func (b *Bot) button(c *dispatcher.Context) (st fsm.State, ok bool, err error) {
	d := data(c)
	if owner, bound := ui.TagOwner(d.Tag); bound && owner != ui.OwnerCode(c.UserID()) {
		// a menu made for another user (a group shows everybody's): it
		// acts for nobody else, whatever the presser's own state is
		c.Reject(dispatcher.ReasonForbidden, textNotYourMenu)
		return st, false, nil
	}
	st, err = b.get(c)
	if err != nil {
		return st, false, b.storeFailed(c, err)
	}
	screen, rev, tagged := ui.ParseTag(d.Tag)
	if tagged && ui.Allows(screen, d.Action) && st.Screen == screen && st.Rev == rev {
		return st, true, nil
	}
	if st.UpdateID != 0 && st.UpdateID == c.UpdateID() {
		return st, false, b.replay(c, st) // this update's own write, delivered again
	}
	if !tagged || !ui.Allows(screen, d.Action) {
		screen = ""
		if s := ui.ScreensOf(d.Action); len(s) > 0 {
			screen = s[0]
		}
	}
	b.mismatch(c, screen, st.Screen)
	return st, false, nil
}

// mismatch refuses a button of a screen the user has left.
func (b *Bot) mismatch(c *dispatcher.Context, expected, actual ui.ScreenID) {
	if actual == "" {
		actual = noScreen
	}
	if expected == "" {
		expected = noScreen
	}
	c.Reject(dispatcher.ReasonStateMismatch, dispatcher.TextExpired, dispatcher.States(expected, actual))
}

// commit writes next over st (with job, if any). ok is false when the
// dispatch already ended: refused, failed or replayed.
func (b *Bot) commit(c *dispatcher.Context, st, next fsm.State, job *fsm.Job) (saved fsm.State, streamID string, ok bool, err error) {
	saved, streamID, err = b.write(c, st.Rev, next, job)
	if err == nil {
		return saved, streamID, true, nil
	}
	if cur, stale := fsm.IsStale(err); stale {
		if cur.UpdateID != 0 && cur.UpdateID == c.UpdateID() {
			return cur, "", false, b.replay(c, cur)
		}
		b.mismatch(c, st.Screen, cur.Screen)
		return cur, "", false, nil
	}
	return fsm.State{}, "", false, b.storeFailed(c, err)
}

// move commits next over st and shows it, answering a callback with answer.
func (b *Bot) move(c *dispatcher.Context, st, next fsm.State, answer string) error {
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
func (b *Bot) shown(c *dispatcher.Context, st fsm.State, v view, answer string) error {
	c.Accept(st.Screen)
	err := b.deliver(c, st, v)
	if c.CallbackQuery() != nil {
		_ = c.Answer(answer)
	}
	return err
}

// replay shows the state an earlier delivery of this update wrote.
func (b *Bot) replay(c *dispatcher.Context, st fsm.State) error {
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
