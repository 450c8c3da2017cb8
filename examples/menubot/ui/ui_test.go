package ui_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
)

func TestTagRoundTrip(t *testing.T) {
	for _, screen := range []string{"MAIN_MENU", "MODEL_PICK", "PARAM_INPUT", "CONFIRM"} {
		for _, rev := range []int64{1, 35, 36, 1_764_300_000_123, 1 << 62} {
			tag := ui.Tag(ui.ScreenID(screen), rev)
			require.NotEmpty(t, tag)
			got, gotRev, ok := ui.ParseTag(tag)
			require.True(t, ok, tag)
			require.Equal(t, screen, string(got))
			require.Equal(t, rev, gotRev)
		}
	}
	require.Empty(t, ui.Tag(ui.DebugPanel, 5), "the debug panel is not stateful")
	require.Empty(t, ui.Tag(ui.MainMenu, 0))
	for _, bad := range []string{"", "m", "x12", "m-1", "m0", "d12", "m!!"} {
		_, _, ok := ui.ParseTag(bad)
		require.False(t, ok, bad)
	}
}

func TestBuildUsesOnlyRegisteredButtons(t *testing.T) {
	kb, ids, err := ui.Build(ui.ModelPick, 42, [][]ui.Button{
		{{ID: ui.BtnModel, Label: "Flux", Args: []string{"flux"}}, {ID: ui.BtnModel, Label: "SDXL", Args: []string{"sdxl"}}},
		{},
		{{ID: ui.BtnBack, Label: "Back"}},
	})
	require.NoError(t, err)
	require.Len(t, kb.InlineKeyboard, 2, "empty rows are dropped")
	require.Equal(t, "model:flux", string(ids[0]))
	require.Equal(t, "back", string(ids[2]))
	d, err := callback.Parse(kb.InlineKeyboard[0][0].CallbackData)
	require.NoError(t, err)
	screen, rev, ok := ui.ParseTag(d.Tag)
	require.True(t, ok)
	require.Equal(t, ui.ModelPick, screen)
	require.EqualValues(t, 42, rev)

	_, _, err = ui.Build(ui.MainMenu, 1, [][]ui.Button{{{ID: ui.BtnBack, Label: "Back"}}})
	require.ErrorIs(t, err, ui.ErrNotOnScreen, "MAIN_MENU has no Back")
	_, _, err = ui.Build(ui.MainMenu, 1, [][]ui.Button{{{ID: ui.BtnDebugClose, Label: "x"}}})
	require.ErrorIs(t, err, ui.ErrNotOnScreen)
	_, _, err = ui.Build("NOWHERE", 1, nil)
	require.ErrorIs(t, err, ui.ErrNotOnScreen)
	_, _, err = ui.Build(ui.MainMenu, 0, nil)
	require.Error(t, err, "a stateful screen needs its revision")
	_, _, err = ui.Build(ui.MainMenu, 1, [][]ui.Button{{{ID: ui.BtnCategory, Label: "x", Args: []string{"a:b"}}}})
	require.ErrorIs(t, err, callback.ErrBadData)

	kb, ids, err = ui.Build(ui.DebugPanel, 0, [][]ui.Button{{{ID: ui.BtnDebugOn30, Label: "Debug 30 min"}}})
	require.NoError(t, err)
	require.Equal(t, "v1:debug_on_30", kb.InlineKeyboard[0][0].CallbackData, "the contract's id, no tag")
	require.Equal(t, "debug_on_30", string(ids[0]))
}

func TestRegistryMatchesTheContract(t *testing.T) {
	for _, s := range ui.Screens() {
		hasBack := false
		hasCancel := false
		for _, b := range s.Buttons {
			hasBack = hasBack || b == ui.BtnBack
			hasCancel = hasCancel || b == ui.BtnCancel
		}
		switch s.ID {
		case ui.MainMenu, ui.DebugPanel:
			require.False(t, hasBack, s.ID)
		default:
			require.True(t, hasBack, "%s has Back", s.ID)
		}
		if s.ID == ui.ParamInput || s.ID == ui.Confirm {
			require.True(t, hasCancel, "%s has Cancel", s.ID)
		}
	}
	require.Equal(t, []ui.ScreenID{ui.ModelPick, ui.ParamInput, ui.Confirm}, ui.ScreensOf(ui.BtnBack))
	require.Len(t, ui.Buttons(), 9)
	require.True(t, ui.Allows(ui.DebugPanel, ui.BtnDebugShowLastCID))
	require.False(t, ui.Allows("NOWHERE", ui.BtnBack))
}
