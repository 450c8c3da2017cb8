package menubot

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

// errCatalogMiss is a state that names a category, model or parameter the
// catalog does not have (the catalog changed, or the state is corrupt).
var errCatalogMiss = errors.New("menubot: catalog has no such entry")

// view is a screen's text and buttons, before the keyboard is built.
type view struct {
	text string
	rows [][]ui.Button
}

func chunk(bs []ui.Button, n int) [][]ui.Button {
	var rows [][]ui.Button
	for len(bs) > n {
		rows = append(rows, bs[:n])
		bs = bs[n:]
	}
	if len(bs) > 0 {
		rows = append(rows, bs)
	}
	return rows
}

func jobQueuedText(id string) string { return fmt.Sprintf(textJobQueued, id) }

// modelOf returns the category and model a state names.
func (b *Bot) modelOf(st fsm.State) (Category, Model, error) {
	cat, ok := b.cat.Category(st.Get(vCategory))
	if !ok {
		return Category{}, Model{}, fmt.Errorf("%w: category %q", errCatalogMiss, st.Get(vCategory))
	}
	m, ok := b.cat.Model(cat.ID, st.Get(vModel))
	if !ok {
		return cat, Model{}, fmt.Errorf("%w: model %q of %q", errCatalogMiss, st.Get(vModel), cat.ID)
	}
	return cat, m, nil
}

// view renders a state's screen from the catalog.
func (b *Bot) view(st fsm.State) (view, error) {
	back := ui.Button{ID: ui.BtnBack, Label: labelBack}
	cancel := ui.Button{ID: ui.BtnCancel, Label: labelCancel}
	switch st.Screen {
	case ui.MainMenu:
		var bs []ui.Button
		for _, c := range b.cat.Categories {
			bs = append(bs, ui.Button{ID: ui.BtnCategory, Label: c.Title, Args: []string{c.ID}})
		}
		text := textMainMenu
		if id := st.Get(vJob); id != "" {
			text = jobQueuedText(id) + "\n\n" + textMainMenu
		}
		return view{text: text, rows: chunk(bs, 2)}, nil
	case ui.ModelPick:
		cat, ok := b.cat.Category(st.Get(vCategory))
		if !ok {
			return view{}, fmt.Errorf("%w: category %q", errCatalogMiss, st.Get(vCategory))
		}
		var bs []ui.Button
		for _, m := range cat.Models {
			bs = append(bs, ui.Button{ID: ui.BtnModel, Label: m.Title, Args: []string{m.ID}})
		}
		return view{text: fmt.Sprintf(textModelPick, cat.Title), rows: append(chunk(bs, 2), []ui.Button{back})}, nil
	case ui.ParamInput:
		_, m, err := b.modelOf(st)
		if err != nil {
			return view{}, err
		}
		step := st.Get(vStep)
		if step == stepPrompt {
			return view{text: fmt.Sprintf(textPromptAsk, m.Title, minPrompt), rows: [][]ui.Button{{back, cancel}}}, nil
		}
		p, ok := m.Param(step)
		if !ok {
			return view{}, fmt.Errorf("%w: parameter %q of %q", errCatalogMiss, step, m.ID)
		}
		var bs []ui.Button
		for _, o := range p.Options {
			bs = append(bs, ui.Button{ID: ui.BtnParam, Label: o.Title, Args: []string{p.ID, o.ID}})
		}
		return view{text: fmt.Sprintf(textParamAsk, m.Title, strings.ToLower(p.Title)),
			rows: append(chunk(bs, 3), []ui.Button{back, cancel})}, nil
	case ui.Confirm:
		cat, m, err := b.modelOf(st)
		if err != nil {
			return view{}, err
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "Category: %s\nModel: %s\nPrompt: %s", cat.Title, m.Title, st.Get(vPrompt))
		for _, p := range m.Params {
			o, ok := p.Option(st.Get(paramPrefix + p.ID))
			if !ok {
				return view{}, fmt.Errorf("%w: option %q of %q", errCatalogMiss, st.Get(paramPrefix+p.ID), p.ID)
			}
			fmt.Fprintf(&sb, "\n%s: %s", p.Title, o.Title)
		}
		return view{text: fmt.Sprintf(textConfirm, sb.String()),
			rows: [][]ui.Button{{{ID: ui.BtnConfirm, Label: labelConfirm}}, {back, cancel}}}, nil
	}
	return view{}, fmt.Errorf("%w: screen %q", errCatalogMiss, st.Screen)
}

// deliver shows a state's screen: a callback's message is edited in place,
// and a new message is sent when there is none to edit or the edit fails
// (an old or inaccessible message). UI_RENDER is logged once shown.
func (b *Bot) deliver(c *dispatcher.Context, st fsm.State, v view) error {
	kb, ids, err := ui.BuildFor(st.Screen, st.Rev, c.UserID(), v.rows) // bound to the user it is for
	if err != nil {
		return err // a defect: the registry or the codec refuses our own buttons
	}
	return b.present(c, st.Screen, v.text, kb, ids)
}

// present edits the callback's message, or sends a new one, with text and
// kb, and logs UI_RENDER for screen.
func (b *Bot) present(c *dispatcher.Context, screen ui.ScreenID, text string, kb *telego.InlineKeyboardMarkup, ids []ui.ButtonID) error {
	if _, msg, ok := c.SourceMessage(); ok {
		err := c.Edit(msg, text, kb)
		if err == nil {
			c.Render(screen, ids...)
			return nil
		}
		if err := telegramFailed(c, err); err != nil {
			return err
		}
		// the message cannot be edited any more: send a new one
	}
	if _, err := c.Reply(text, kb); err != nil {
		return telegramFailed(c, err)
	}
	c.Render(screen, ids...)
	return nil
}
