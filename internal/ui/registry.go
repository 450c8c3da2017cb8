package ui

import (
	"slices"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Screens of the bot.
const (
	MainMenu   telemetry.ScreenID = "MAIN_MENU"
	ModelPick  telemetry.ScreenID = "MODEL_PICK"
	ParamInput telemetry.ScreenID = "PARAM_INPUT"
	Confirm    telemetry.ScreenID = "CONFIRM"
	DebugPanel telemetry.ScreenID = "DEBUG_PANEL"
	// Closed is the next_screen of a panel that was closed.
	Closed telemetry.ScreenID = "CLOSED"
)

// Buttons of the bot. A rendered button's id is its ButtonID followed by
// its arguments ("cat:image"); the registry knows the ButtonID.
const (
	BtnCategory         telemetry.ButtonID = "cat"
	BtnModel            telemetry.ButtonID = "model"
	BtnParam            telemetry.ButtonID = "param"
	BtnConfirm          telemetry.ButtonID = "confirm"
	BtnBack             telemetry.ButtonID = "back"
	BtnCancel           telemetry.ButtonID = "cancel"
	BtnDebugOn30        telemetry.ButtonID = "debug_on_30"
	BtnDebugShowLastCID telemetry.ButtonID = "debug_show_last_cid"
	BtnDebugClose       telemetry.ButtonID = "debug_close"
)

// Screen is one registered screen.
type Screen struct {
	ID telemetry.ScreenID
	// Code is the screen's letter in keyboard tags.
	Code byte
	// Buttons are the only buttons its keyboards may show.
	Buttons []telemetry.ButtonID
	// Stateful screens follow the user's FSM state: their buttons carry a
	// tag and are refused once the user has left the screen.
	Stateful bool
}

var screens = []Screen{
	{ID: MainMenu, Code: 'm', Stateful: true, Buttons: []telemetry.ButtonID{BtnCategory}},
	{ID: ModelPick, Code: 'k', Stateful: true, Buttons: []telemetry.ButtonID{BtnModel, BtnBack}},
	{ID: ParamInput, Code: 'p', Stateful: true, Buttons: []telemetry.ButtonID{BtnParam, BtnBack, BtnCancel}},
	{ID: Confirm, Code: 'c', Stateful: true, Buttons: []telemetry.ButtonID{BtnConfirm, BtnBack, BtnCancel}},
	{ID: DebugPanel, Code: 'd', Buttons: []telemetry.ButtonID{BtnDebugOn30, BtnDebugShowLastCID, BtnDebugClose}},
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
func ScreenOf(id telemetry.ScreenID) (Screen, bool) {
	for _, s := range screens {
		if s.ID == id {
			return s, true
		}
	}
	return Screen{}, false
}

// Buttons returns every registered button, each once.
func Buttons() []telemetry.ButtonID {
	var out []telemetry.ButtonID
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
func Allows(screen telemetry.ScreenID, button telemetry.ButtonID) bool {
	s, ok := ScreenOf(screen)
	return ok && slices.Contains(s.Buttons, button)
}

// ScreensOf returns the screens that register button, in registry order.
func ScreensOf(button telemetry.ButtonID) []telemetry.ScreenID {
	var out []telemetry.ScreenID
	for _, s := range screens {
		if slices.Contains(s.Buttons, button) {
			out = append(out, s.ID)
		}
	}
	return out
}
