package router

import (
	"strings"

	"github.com/mymmrac/telego"
)

// parseCommand splits "/name@bot args" at the start of a message. isCmd is
// false for plain text; ours is false for a command addressed to another
// bot (only decided when username is known).
func parseCommand(m *telego.Message, username string) (name, args string, isCmd, ours bool) {
	text := m.Text
	if !strings.HasPrefix(text, "/") || len(text) < 2 {
		return "", "", false, false
	}
	head, rest, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		rest = head[i+1:] + " " + rest
		head = head[:i]
	}
	name, bot, addressed := strings.Cut(head, "@")
	if name == "" {
		return "", "", false, false
	}
	ours = !addressed || username == "" || strings.EqualFold(bot, username)
	return strings.ToLower(name), strings.TrimSpace(rest), true, ours
}
