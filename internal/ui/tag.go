package ui

import (
	"strconv"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Tag returns the keyboard tag of a stateful screen at a state revision:
// the screen's code followed by the revision in base 36 ("k2bq9x").
// It returns "" for a screen that is not registered or not stateful.
func Tag(screen telemetry.ScreenID, rev int64) string {
	s, ok := ScreenOf(screen)
	if !ok || !s.Stateful || rev <= 0 {
		return ""
	}
	return string(s.Code) + strconv.FormatInt(rev, 36)
}

// ParseTag returns the screen and revision a tag names.
func ParseTag(tag string) (telemetry.ScreenID, int64, bool) {
	if len(tag) < 2 {
		return "", 0, false
	}
	rev, err := strconv.ParseInt(tag[1:], 36, 64)
	if err != nil || rev <= 0 {
		return "", 0, false
	}
	for _, s := range screens {
		if s.Code == tag[0] && s.Stateful {
			return s.ID, rev, true
		}
	}
	return "", 0, false
}
