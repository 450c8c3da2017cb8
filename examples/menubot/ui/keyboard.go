package ui

import (
	"errors"
	"fmt"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/callback"
)

// ErrNotOnScreen is returned by Build for a button its screen does not
// register (or a screen that is not registered).
var ErrNotOnScreen = errors.New("ui: button not registered on screen")

// Button is one button to render.
type Button struct {
	ID    ButtonID
	Label string
	Args  []string
}

// Build returns the inline keyboard of screen with rows of buttons, and
// the rendered button ids in order (for UI_RENDER). Buttons of a stateful
// screen carry the tag of (screen, rev). It fails with ErrNotOnScreen for a
// button the screen does not register and with callback.ErrBadData for data
// the codec refuses.
func Build(screen ScreenID, rev int64, rows [][]Button) (*telego.InlineKeyboardMarkup, []ButtonID, error) {
	return BuildFor(screen, rev, 0, rows)
}

// BuildFor is Build for the keyboard of one user: the tag of a stateful
// screen names the user (TagFor), so its buttons can be refused to anybody
// else. user 0 is Build.
func BuildFor(screen ScreenID, rev, user int64, rows [][]Button) (*telego.InlineKeyboardMarkup, []ButtonID, error) {
	s, ok := ScreenOf(screen)
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown screen %s", ErrNotOnScreen, screen)
	}
	tag := ""
	if s.Stateful {
		if tag = TagFor(screen, rev, user); tag == "" {
			return nil, nil, fmt.Errorf("ui: screen %s needs a state revision, got %d", screen, rev)
		}
	}
	kb := &telego.InlineKeyboardMarkup{InlineKeyboard: make([][]telego.InlineKeyboardButton, 0, len(rows))}
	var ids []ButtonID
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		out := make([]telego.InlineKeyboardButton, 0, len(row))
		for _, b := range row {
			if !Allows(screen, b.ID) {
				return nil, nil, fmt.Errorf("%w: %s on %s", ErrNotOnScreen, b.ID, screen)
			}
			d := callback.Data{Action: string(b.ID), Args: b.Args, Tag: tag}
			data, err := d.Encode()
			if err != nil {
				return nil, nil, fmt.Errorf("ui: button %s on %s: %w", d.Button(), screen, err)
			}
			out = append(out, telego.InlineKeyboardButton{Text: b.Label, CallbackData: data})
			ids = append(ids, d.Button())
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, out)
	}
	return kb, ids, nil
}
