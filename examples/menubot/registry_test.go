package menubot

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

func testBot(t *testing.T) *Bot {
	t.Helper()
	b, err := New(Options{})
	require.NoError(t, err)
	return b
}

// allStates returns every state the menu flow can be in with the catalog.
func allStates(c *Catalog) []fsm.State {
	out := []fsm.State{{Screen: ui.MainMenu, Rev: 1}, {Screen: ui.MainMenu, Rev: 2, Values: map[string]string{vJob: "0123456789ab"}}}
	for _, cat := range c.Categories {
		out = append(out, fsm.State{Screen: ui.ModelPick, Rev: 3, Values: map[string]string{vCategory: cat.ID}})
		for _, m := range cat.Models {
			base := map[string]string{vCategory: cat.ID, vModel: m.ID, vPrompt: "a prompt"}
			for _, step := range m.steps() {
				st := fsm.State{Screen: ui.ParamInput, Rev: 4, Values: base}
				out = append(out, st.With(ui.ParamInput, vStep, step))
			}
			done := fsm.State{Screen: ui.Confirm, Rev: 5, Values: base}
			for _, p := range m.Params {
				done = done.With(ui.Confirm, paramPrefix+p.ID, p.Options[len(p.Options)-1].ID)
			}
			out = append(out, done)
		}
	}
	return out
}

// Every keyboard the bot can render uses only its screen's registered
// buttons, and its callback data fits Telegram's 64 bytes.
func TestEveryRenderedKeyboardUsesOnlyItsScreensButtons(t *testing.T) {
	b := testBot(t)
	states := allStates(b.cat)
	require.Greater(t, len(states), 20)
	for _, st := range states {
		v, err := b.view(st)
		require.NoError(t, err, "%s %v", st.Screen, st.Values)
		kb, ids, err := ui.Build(st.Screen, st.Rev, v.rows)
		require.NoError(t, err, "%s %v", st.Screen, st.Values)
		screen, _ := ui.ScreenOf(st.Screen)
		for _, row := range kb.InlineKeyboard {
			for _, btn := range row {
				require.LessOrEqual(t, len(btn.CallbackData), callback.MaxLen)
				d, err := callback.Parse(btn.CallbackData)
				require.NoError(t, err)
				require.Contains(t, screen.Buttons, d.Action, "%s on %s", d.Action, st.Screen)
				tagScreen, rev, ok := ui.ParseTag(d.Tag)
				require.True(t, ok)
				require.Equal(t, st.Screen, tagScreen)
				require.Equal(t, st.Rev, rev)
			}
		}
		require.NotEmpty(t, ids)
		if st.Screen != ui.MainMenu {
			require.True(t, slices.Contains(ids, ui.BtnBack), "%s has Back", st.Screen)
		} else {
			require.False(t, slices.Contains(ids, ui.BtnBack), "MAIN_MENU has no Back")
		}
		if st.Screen == ui.ParamInput || st.Screen == ui.Confirm {
			require.True(t, slices.Contains(ids, ui.BtnCancel), "%s has Cancel", st.Screen)
		}
	}
}

// Every registered button has a route, and every callback route is a
// registered button.
func TestEveryRegisteredButtonHasARoute(t *testing.T) {
	b := testBot(t)
	for _, id := range ui.Buttons() {
		require.True(t, b.r.HasCallback(id), "button %s has no route", id)
	}
	for _, id := range []ui.ButtonID{ui.BtnDebugOn30, ui.BtnDebugShowLastCID, ui.BtnDebugClose} {
		require.True(t, strings.HasPrefix(string(id), "debug_"))
		require.True(t, ui.Allows(ui.DebugPanel, id))
	}
}

// The longest ids a catalog may hold still fit the callback data limit.
func TestLongestCatalogIDsFitCallbackData(t *testing.T) {
	long := strings.Repeat("a", 16)
	d := callback.Data{Action: ui.BtnParam, Args: []string{long, long}, Tag: ui.TagFor(ui.ParamInput, 1<<62, -1<<52)} // the owner code too
	s, err := d.Encode()
	require.NoError(t, err)
	require.LessOrEqual(t, len(s), callback.MaxLen)
}
