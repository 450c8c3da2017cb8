package router

import (
	"strings"

	"github.com/mymmrac/telego"
)

// parseCommand splits "/name@bot args" at the start of a message. isCmd is
// false for plain text; to is the bot a command is addressed to ("" for a
// bare command).
func parseCommand(m *telego.Message) (name, args string, isCmd bool, to string) {
	text := m.Text
	if !strings.HasPrefix(text, "/") || len(text) < 2 {
		return "", "", false, ""
	}
	head, rest, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		rest = head[i+1:] + " " + rest
		head = head[:i]
	}
	name, to, _ = strings.Cut(head, "@")
	if name == "" {
		return "", "", false, ""
	}
	return strings.ToLower(name), strings.TrimSpace(rest), true, to
}
