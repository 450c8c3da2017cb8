package ui

import (
	"slices"
)

// ScreenID names a screen, as logged in next_screen, screen_id,
// expected_state and actual_state (plain strings at the dispatcher's API).
type ScreenID = string

// ButtonID names a button: the action of its callback data (package
// callback); a rendered button's id adds its arguments ("cat:image").
type ButtonID = string

// Screens of the bot.
const (
	MainMenu   ScreenID = "MAIN_MENU"
	ModelPick  ScreenID = "MODEL_PICK"
	ParamInput ScreenID = "PARAM_INPUT"
	Confirm    ScreenID = "CONFIRM"
	DebugPanel ScreenID = "DEBUG_PANEL"
	// Closed is the next_screen of a panel that was closed.
	Closed ScreenID = "CLOSED"
)

// Buttons of the bot. A rendered button's id is its ButtonID followed by
// its arguments ("cat:image"); the registry knows the ButtonID.
const (
	BtnCategory         ButtonID = "cat"
	BtnModel            ButtonID = "model"
	BtnParam            ButtonID = "param"
	BtnConfirm          ButtonID = "confirm"
	BtnBack             ButtonID = "back"
	BtnCancel           ButtonID = "cancel"
	BtnDebugOn30        ButtonID = "debug_on_30"
	BtnDebugShowLastCID ButtonID = "debug_show_last_cid"
	BtnDebugClose       ButtonID = "debug_close"
)

// Screen is one registered screen.
type Screen struct {
	ID ScreenID
	// Code is the screen's letter in keyboard tags.
	Code byte
	// Buttons are the only buttons its keyboards may show.
	Buttons []ButtonID
	// Stateful screens follow the user's FSM state: their buttons carry a
	// tag and are refused once the user has left the screen.
	Stateful bool
}

var screens = []Screen{
	{ID: MainMenu, Code: 'm', Stateful: true, Buttons: []ButtonID{BtnCategory}},
	{ID: ModelPick, Code: 'k', Stateful: true, Buttons: []ButtonID{BtnModel, BtnBack}},
	{ID: ParamInput, Code: 'p', Stateful: true, Buttons: []ButtonID{BtnParam, BtnBack, BtnCancel}},
	{ID: Confirm, Code: 'c', Stateful: true, Buttons: []ButtonID{BtnConfirm, BtnBack, BtnCancel}},
	{ID: DebugPanel, Code: 'd', Buttons: []ButtonID{BtnDebugOn30, BtnDebugShowLastCID, BtnDebugClose}},
}

// Screens returns every registered screen.
func Screens() []Screen {
	out := make([]Screen, len(screens))
	for i, s := range screens {
		s.Buttons = slices.Clone(s.Buttons)
		out[i] = s
	}
	return out
}

// ScreenOf returns the registered screen id.
func ScreenOf(id ScreenID) (Screen, bool) {
	for _, s := range screens {
		if s.ID == id {
			return s, true
		}
	}
	return Screen{}, false
}

// Buttons returns every registered button, each once.
func Buttons() []ButtonID {
	var out []ButtonID
	for _, s := range screens {
		for _, b := range s.Buttons {
			if !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// Allows reports whether screen registers button.
func Allows(screen ScreenID, button ButtonID) bool {
	s, ok := ScreenOf(screen)
	return ok && slices.Contains(s.Buttons, button)
}

// ScreensOf returns the screens that register button, in registry order.
func ScreensOf(button ButtonID) []ScreenID {
	var out []ScreenID
	for _, s := range screens {
		if slices.Contains(s.Buttons, button) {
			out = append(out, s.ID)
		}
	}
	return out
}
