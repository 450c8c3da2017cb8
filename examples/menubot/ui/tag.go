package ui

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Tag returns the keyboard tag of a stateful screen at a state revision:
// the screen's code followed by the revision in base 36 ("k2bq9x").
// It returns "" for a screen that is not registered or not stateful.
func Tag(screen ScreenID, rev int64) string {
	s, ok := ScreenOf(screen)
	if !ok || !s.Stateful || rev <= 0 {
		return ""
	}
	return string(s.Code) + strconv.FormatInt(rev, 36)
}

// ownerLen is the length of a tag's owner code.
const ownerLen = 5

// TagFor is Tag bound to the user the keyboard is made for: the tag gains
// "." and the user's OwnerCode ("k2bq9x.0c7fz"), so that in a group, where
// everybody sees a user's menu, a press by anybody else can be told apart
// (TagOwner). user 0 gives Tag's unbound tag.
func TagFor(screen ScreenID, rev, user int64) string {
	t := Tag(screen, rev)
	if t == "" || user == 0 {
		return t
	}
	return t + "." + OwnerCode(user)
}

// OwnerCode is the code of a user in a tag: five base-36 characters of a
// hash of the user id. Two users share a code with a chance of 1 in 36^5
// (about 60 million); a foreign press passes only when, besides, the
// presser's own state is at the very screen and revision of the tag.
func OwnerCode(user int64) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatInt(user, 10)))
	const space = 36 * 36 * 36 * 36 * 36
	code := strconv.FormatUint(h.Sum64()%space, 36)
	return strings.Repeat("0", ownerLen-len(code)) + code
}

// TagOwner returns the owner code of a tag written by TagFor; ok is false
// for a tag that names no owner (Tag's, or one rendered before tags named
// their user).
func TagOwner(tag string) (code string, ok bool) {
	_, code, ok = strings.Cut(tag, ".")
	return code, ok && code != ""
}

// ParseTag returns the screen and revision a tag names (an owner code, if
// any, is left out: see TagOwner).
func ParseTag(tag string) (ScreenID, int64, bool) {
	tag, _, _ = strings.Cut(tag, ".")
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
