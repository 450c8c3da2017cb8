package menubot

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

// onStart resets the user to MAIN_MENU, whatever the state, and sends the
// menu as a new message.
func (b *Bot) onStart(c *dispatcher.Context) error {
	saved, _, err := b.write(c, fsm.AnyRev, fsm.State{Screen: ui.MainMenu}, nil)
	if err != nil {
		return b.storeFailed(c, err)
	}
	v, err := b.view(saved)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	return b.shown(c, saved, v, "")
}

// onCategory: MAIN_MENU → MODEL_PICK.
func (b *Bot) onCategory(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	cat, found := b.cat.Category(data(c).Arg(0))
	if !found {
		return b.catalogFailed(c, fmt.Errorf("%w: category %q", errCatalogMiss, data(c).Arg(0)))
	}
	next := fsm.State{Screen: ui.ModelPick, Values: map[string]string{vCategory: cat.ID}}
	return b.move(c, st, next, "")
}

// onModel: MODEL_PICK → PARAM_INPUT, asking for the prompt.
func (b *Bot) onModel(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	m, found := b.cat.Model(st.Get(vCategory), data(c).Arg(0))
	if !found {
		return b.catalogFailed(c, fmt.Errorf("%w: model %q of %q", errCatalogMiss, data(c).Arg(0), st.Get(vCategory)))
	}
	next := fsm.State{Screen: ui.ParamInput, Values: map[string]string{
		vCategory: st.Get(vCategory), vModel: m.ID, vStep: stepPrompt}}
	return b.move(c, st, next, "")
}

// advance returns the state after step of model m was answered with the
// values kv: the next parameter's PARAM_INPUT, or CONFIRM after the last.
func advance(st fsm.State, m Model, step string, kv ...string) fsm.State {
	steps := m.steps()
	i := slices.Index(steps, step)
	if i >= 0 && i+1 < len(steps) {
		return st.With(ui.ParamInput, append(kv, vStep, steps[i+1])...)
	}
	return st.With(ui.Confirm, append(kv, vStep, "")...)
}

// onPromptText takes the prompt typed on PARAM_INPUT. Text where a
// parameter's buttons are expected is refused with a hint.
func (b *Bot) onPromptText(c *dispatcher.Context) error {
	text := strings.TrimSpace(c.Text())
	var cur fsm.State
	for attempt := 0; attempt < maxRetries; attempt++ {
		st, err := b.get(c)
		if err != nil {
			return b.storeFailed(c, err)
		}
		if st.Screen != ui.ParamInput {
			return b.onUnexpected(c) // the screen changed since routing
		}
		_, m, err := b.modelOf(st)
		if err != nil {
			return b.catalogFailed(c, err)
		}
		step := st.Get(vStep)
		if attempt == 0 {
			c.ParamInput(step, text)
		}
		if step != stepPrompt {
			return b.invalid(c, step, textUseButtons)
		}
		switch n := utf8.RuneCountInString(text); {
		case n < minPrompt:
			return b.invalid(c, step, fmt.Sprintf(textPromptShort, minPrompt))
		case n > maxPrompt:
			return b.invalid(c, step, fmt.Sprintf(textPromptLong, maxPrompt))
		}
		next := advance(st, m, stepPrompt, vPrompt, text)
		v, err := b.view(next)
		if err != nil {
			return b.catalogFailed(c, err)
		}
		saved, _, err := b.write(c, st.Rev, next, nil)
		if s, stale := fsm.IsStale(err); stale {
			if s.UpdateID != 0 && s.UpdateID == c.UpdateID() {
				return b.replay(c, s)
			}
			cur = s
			continue // another update moved the user: decide again on the new state
		}
		if err != nil {
			return b.storeFailed(c, err)
		}
		c.ParamAccepted(stepPrompt, text)
		return b.shown(c, saved, v, "")
	}
	actual := cur.Screen
	if actual == "" {
		actual = noScreen
	}
	c.Reject(dispatcher.ReasonStateMismatch, textStaleText, dispatcher.States(ui.ParamInput, actual))
	return nil
}

// invalid refuses a parameter value with VALIDATION_FAILED and a hint.
func (b *Bot) invalid(c *dispatcher.Context, param, hint string) error {
	c.ParamRejected(param, dispatcher.ReasonValidationFailed, hint)
	c.Reject(dispatcher.ReasonValidationFailed, hint)
	return nil
}

// onParam takes a parameter's button on PARAM_INPUT.
func (b *Bot) onParam(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	_, m, err := b.modelOf(st)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	name, value := data(c).Arg(0), data(c).Arg(1)
	if name != st.Get(vStep) {
		b.mismatch(c, ui.ParamInput, st.Screen)
		return nil
	}
	c.ParamInput(name, value)
	p, _ := m.Param(name)
	o, found := p.Option(value)
	if !found {
		return b.invalid(c, name, textUnknownValue)
	}
	next := advance(st, m, name, paramPrefix+name, o.ID)
	v, err := b.view(next)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	saved, _, ok, err := b.commit(c, st, next, nil)
	if !ok {
		return err
	}
	c.ParamAccepted(name, o.ID)
	return b.shown(c, saved, v, "")
}

// onConfirm queues the job and moves the user back to MAIN_MENU, in one
// script.
func (b *Bot) onConfirm(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	cat, m, err := b.modelOf(st)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	id := newJobID()
	next := fsm.State{Screen: ui.MainMenu, Values: map[string]string{vJob: id}}
	v, err := b.view(next)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	job, err := b.job(c, id, st, cat, m)
	if err != nil {
		return b.catalogFailed(c, err)
	}
	saved, _, ok, err := b.commit(c, st, next, job)
	if !ok {
		return err
	}
	c.JobQueued(id)
	return b.shown(c, saved, v, jobQueuedText(id))
}

// onBack returns to the screen before: MODEL_PICK → MAIN_MENU, the prompt
// → MODEL_PICK, a parameter → the step before it, CONFIRM → the last step.
func (b *Bot) onBack(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	var next fsm.State
	switch st.Screen {
	case ui.ModelPick:
		next = fsm.State{Screen: ui.MainMenu}
	case ui.ParamInput, ui.Confirm:
		_, m, err := b.modelOf(st)
		if err != nil {
			return b.catalogFailed(c, err)
		}
		steps := m.steps()
		i := len(steps) // CONFIRM comes after the last step
		if st.Screen == ui.ParamInput {
			i = slices.Index(steps, st.Get(vStep))
		}
		if i <= 0 {
			next = fsm.State{Screen: ui.ModelPick, Values: map[string]string{vCategory: st.Get(vCategory)}}
		} else {
			next = st.With(ui.ParamInput, vStep, steps[i-1])
		}
	default:
		b.mismatch(c, ui.ModelPick, st.Screen)
		return nil
	}
	return b.move(c, st, next, "")
}

// onCancel drops the collected parameters and returns to MAIN_MENU.
func (b *Bot) onCancel(c *dispatcher.Context) error {
	st, ok, err := b.button(c)
	if !ok {
		return err
	}
	return b.move(c, st, fsm.State{Screen: ui.MainMenu}, textCancelled)
}

// onUnexpected answers text and commands nobody expects with a hint.
func (b *Bot) onUnexpected(c *dispatcher.Context) error {
	if cmd, _ := c.Command(); cmd != "" {
		c.Reject(dispatcher.ReasonUnknownAction, textUnknownCmd)
		return nil
	}
	c.Reject(dispatcher.ReasonUnknownAction, dispatcher.TextUnknownText)
	return nil
}
