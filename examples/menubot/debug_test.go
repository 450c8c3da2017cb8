package menubot_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func TestDebugPanelForAdmins(t *testing.T) {
	h := newHarness(t)
	cid, err := h.send(adminID, "/debug")
	require.NoError(t, err)
	h.requireChain(cid, "MESSAGE_RECEIVED", "MESSAGE_ROUTED", "DEBUG_PANEL_SHOWN", "MESSAGE_ACCEPTED", "UI_RENDER")
	require.Equal(t, float64(adminID), h.find(cid, "DEBUG_PANEL_SHOWN")[0]["target_user_id"])
	render := h.find(cid, "UI_RENDER")[0]
	require.Equal(t, string(ui.DebugPanel), render.str("screen_id"))
	require.Equal(t, []any{"debug_on_30", "debug_show_last_cid", "debug_close"}, render["button_ids"])
	require.Equal(t, "v1:debug_on_30", h.panel(adminID).buttons["debug_on_30"], "the contract's button ids")

	cid, q1 := h.press(adminID, "debug_on_30")
	h.requireChain(cid, "CALLBACK_ROUTED", "DEBUG_MODE_CHANGED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY")
	ch := h.find(cid, "DEBUG_MODE_CHANGED")[0]
	require.Equal(t, true, ch["enabled"])
	until, err := time.Parse(time.RFC3339Nano, ch.str("until"))
	require.NoError(t, err)
	require.True(t, until.Equal(time.Date(2026, 11, 28, 12, 30, 0, 0, time.UTC)), ch.str("until"))
	require.Equal(t, []time.Duration{30 * time.Minute}, h.debug.calls)
	require.Contains(t, h.answerText(q1), "12:30 UTC")
	onCID := cid

	cid, q2 := h.press(adminID, "debug_show_last_cid")
	h.requireChain(cid, "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "ANSWER_CALLBACK_QUERY")
	text := h.lastText(adminID)
	require.True(t, strings.HasPrefix(text, "cid "+onCID), "the admin's last cid before this click: %q", text)
	require.Contains(t, text, "DEBUG_MODE_CHANGED")
	require.Contains(t, text, "CALLBACK_ACCEPTED test-1 next_screen=DEBUG_PANEL")

	// /debug USER_ID: that user's last cids with their chains
	_, err = h.send(userID, "/start")
	require.NoError(t, err)
	userCID, _ := h.press(userID, "cat:image")
	cid, err = h.send(adminID, "/debug 100200300")
	require.NoError(t, err)
	require.Equal(t, float64(userID), h.find(cid, "DEBUG_PANEL_SHOWN")[0]["target_user_id"])
	text = h.lastText(adminID)
	require.True(t, strings.HasPrefix(text, "cid "+userCID), text)
	require.Contains(t, text, "CALLBACK_ROUTED test-1 button_id=cat:image handler=category")

	cid, err = h.send(adminID, "/debug alice")
	require.NoError(t, err)
	require.Equal(t, "VALIDATION_FAILED", h.find(cid, "MESSAGE_REJECTED")[0].str("reason_code"))

	_, err = h.send(adminID, "/debug")
	require.NoError(t, err)
	cid, q3 := h.press(adminID, "debug_close")
	require.Equal(t, string(ui.Closed), h.find(cid, "CALLBACK_ACCEPTED")[0].str("next_screen"))
	require.Equal(t, "Debug panel closed", h.lastText(adminID))

	h.requireAnsweredOnce(q1, q2, q3)
	require.Empty(t, h.find("", "SILENCE_WARNING"))
}

func TestDebugFailuresAreDBError(t *testing.T) {
	h := newHarness(t)
	h.debug.err = errors.New("redis: connection refused")
	_, err := h.send(adminID, "/debug")
	require.NoError(t, err)
	cid, qid := h.press(adminID, "debug_on_30")
	require.Equal(t, "DB_ERROR", h.find(cid, "CALLBACK_REJECTED")[0].str("reason_code"))
	require.Empty(t, h.find(cid, "DEBUG_MODE_CHANGED"))
	h.requireAnsweredOnce(qid)
}

// TestDebugUserExplainsARefusalAndFollowsResends: /debug USER_ID alone
// tells why a click was refused (reason and expected/actual state, no
// trace needed), and a resend of that click (DUPLICATE_UPDATE) is a line
// naming the original, whose chain is shown once.
func TestDebugUserExplainsARefusalAndFollowsResends(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	menu := h.panel(userID)
	h.press(userID, "cat:image")
	rejected, _, err := h.click(userID, menu.buttons["cat:video"], menu.msgID)
	require.NoError(t, err)

	// Telegram resent the refused click: ingest logged it as a duplicate
	// under a cid of its own
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "test-1", Output: h.logs})
	require.NoError(t, err)
	resend := "0d0d0d0d"
	log.DuplicateUpdate(telemetry.WithUpdate(context.Background(), telemetry.Update{CID: resend, UpdateID: 1,
		Type: "callback_query", UserID: userID, ChatID: userID}), 0, rejected)

	_, err = h.send(adminID, "/debug 100200300")
	require.NoError(t, err)
	text := h.lastText(adminID)
	require.True(t, strings.HasPrefix(text, "cid "+resend+": a resend of cid "+rejected+" (DUPLICATE_UPDATE)\ncid "+rejected+" ("), text)
	require.Contains(t, text, "CALLBACK_REJECTED test-1 reason_code=STATE_MISMATCH expected_state=MAIN_MENU actual_state=MODEL_PICK")
	require.Len(t, regexp.MustCompile(`(?m)^cid `+rejected+` \(\d+ events\)$`).FindAllString(text, -1), 1,
		"the original's chain once: %s", text)
	require.Equal(t, 3, strings.Count(text, " events)\n"), "three chains besides the resend's line: %s", text)
}

// TestDebugSaysWhatTheJournalDidNotKeep: /debug USER_ID prints the
// journal's note under a chain it does not keep whole, and puts the user in
// the journal's debug mode; Debug 30 min puts the admin in it.
func TestDebugSaysWhatTheJournalDidNotKeep(t *testing.T) {
	h := newHarness(t)
	_, err := h.send(userID, "/start")
	require.NoError(t, err)
	userCID, _ := h.press(userID, "cat:image")
	note := "the start of this chain (QUEUE_ENQUEUE on the ingesting instance) was evicted after 3h by the journal budget"
	h.journal.notes = map[string]string{userCID: note}

	_, err = h.send(adminID, "/debug 100200300")
	require.NoError(t, err)
	text := h.lastText(adminID)
	require.Contains(t, text, "⚠ "+note)
	require.Contains(t, text, "User 100200300 is in debug mode for 30 min")

	_, err = h.send(adminID, "/debug")
	require.NoError(t, err)
	h.press(adminID, "debug_on_30")
	require.Equal(t, []int64{userID, adminID}, h.journal.debugUsers)
}
