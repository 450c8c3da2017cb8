package router

import (
	"strings"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func TestDataRoundTrip(t *testing.T) {
	cases := []Data{
		{Action: "back"},
		{Action: "cat", Args: []string{"image"}},
		{Action: "param", Args: []string{"aspect", "16x9"}, Tag: "p1a2b3"},
		{Action: "debug_on_30"},
		{Action: "x", Args: []string{"A.b-C_9"}, Tag: "T"},
	}
	for _, d := range cases {
		s, err := d.Encode()
		require.NoError(t, err)
		require.LessOrEqual(t, len(s), MaxDataLen)
		got, err := ParseData(s)
		require.NoError(t, err, s)
		require.Equal(t, d, got)
	}
	s, _ := Data{Action: "cat", Args: []string{"image"}, Tag: "m7"}.Encode()
	require.Equal(t, "v1:cat:image@m7", s)
	require.Equal(t, "cat:image", string(Data{Action: "cat", Args: []string{"image"}, Tag: "m7"}.Button()))
	require.Equal(t, "image", Data{Action: "cat", Args: []string{"image"}}.Arg(0))
	require.Equal(t, "", Data{Action: "cat"}.Arg(3))
}

func TestDataRefusesWhatItCannotCarry(t *testing.T) {
	long := strings.Repeat("a", 32)
	bad := []Data{
		{},
		{Action: "Cat"},
		{Action: "cat", Args: []string{""}},
		{Action: "cat", Args: []string{"a:b"}},
		{Action: "cat", Args: []string{"a@b"}},
		{Action: "cat", Args: []string{"a", "b", "c", "d", "e"}},
		{Action: "cat", Args: []string{long + "a"}},
		{Action: "cat", Tag: "a b"},
		{Action: telemetry.ButtonID(strings.Repeat("a", 25))},
		{Action: "cat", Args: []string{long, long}}, // 72 bytes
		{Action: "cat", Args: []string{"ключ"}},
	}
	for _, d := range bad {
		_, err := d.Encode()
		require.ErrorIs(t, err, ErrBadData, "%+v", d)
	}
	for _, s := range []string{"", "garbage", "v2:cat", "v1:", "v1:cat:", "v1::x", "v1:cat@", "v1:cat:a b",
		"v1:cat@a@b", "v1:" + strings.Repeat("a", 70), "V1:cat", "v1:cat:\x00", "v1:caté"} {
		_, err := ParseData(s)
		require.ErrorIs(t, err, ErrBadData, "%q", s)
	}
}

func FuzzParseData(f *testing.F) {
	for _, s := range []string{"v1:cat:image", "v1:param:aspect:16x9@p1", "garbage", "v1:", "v1:a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseData(s)
		if err != nil {
			return
		}
		// whatever parses re-encodes to the same bytes
		out, err := d.Encode()
		if err != nil || out != s {
			t.Fatalf("ParseData(%q) = %+v, re-encoded %q, %v", s, d, out, err)
		}
	})
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		text, name, args, to string
		isCmd                bool
	}{
		{"/start", "start", "", "", true},
		{"/Start hello world", "start", "hello world", "", true},
		{"/start@dispatcher_bot", "start", "", "dispatcher_bot", true},
		{"/start@Dispatcher_Bot", "start", "", "Dispatcher_Bot", true},
		{"/start@other_bot x", "start", "x", "other_bot", true},
		{"/debug 100200300", "debug", "100200300", "", true},
		{"/debug\n42", "debug", "42", "", true},
		{"hello", "", "", "", false},
		{"/", "", "", "", false},
		{"/@bot", "", "", "", false},
	}
	for _, c := range cases {
		m := &messageStub{text: c.text}
		name, args, isCmd, to := parseCommand(m.msg())
		require.Equal(t, c.isCmd, isCmd, c.text)
		if !isCmd {
			continue
		}
		require.Equal(t, c.name, name, c.text)
		require.Equal(t, c.args, args, c.text)
		require.Equal(t, c.to, to, c.text)
	}
}

// TestAddressed: in a group only commands addressed to the bot and replies
// to its messages are its own; in a private chat bare commands and text
// too; another bot's command never; without a username every command.
func TestAddressed(t *testing.T) {
	ours := &telego.Message{From: &telego.User{IsBot: true, Username: "dispatcher_bot"}}
	theirs := &telego.Message{From: &telego.User{IsBot: true, Username: "other_bot"}}
	person := &telego.Message{From: &telego.User{Username: "dispatcher_bot"}} // not a bot: a namesake
	cases := []struct {
		chat     string
		text     string
		reply    *telego.Message
		username string
		want     bool
	}{
		{"private", "/start", nil, "dispatcher_bot", true},
		{"private", "/start@dispatcher_bot", nil, "dispatcher_bot", true},
		{"private", "/start@other_bot", nil, "dispatcher_bot", false},
		{"private", "hello", nil, "dispatcher_bot", true},
		{"supergroup", "/start@Dispatcher_Bot", nil, "dispatcher_bot", true},
		{"supergroup", "/start", nil, "dispatcher_bot", false},
		{"supergroup", "/start@other_bot", nil, "dispatcher_bot", false},
		{"supergroup", "hello", nil, "dispatcher_bot", false},
		{"group", "hello", ours, "dispatcher_bot", true},
		{"group", "hello", theirs, "dispatcher_bot", false},
		{"group", "hello", person, "dispatcher_bot", false},
		{"group", "/start", ours, "dispatcher_bot", false},
		{"group", "/start@dispatcher_bot", theirs, "dispatcher_bot", true},
		{"group", "/start", nil, "", true},
		{"group", "/start@other_bot", nil, "", true},
		{"group", "hello", ours, "", false},
		{"private", "hello", nil, "", true},
	}
	for _, c := range cases {
		m := &telego.Message{Text: c.text, Chat: telego.Chat{Type: c.chat}, ReplyToMessage: c.reply}
		_, _, isCmd, to := parseCommand(m)
		r := &Router{username: c.username}
		require.Equal(t, c.want, r.addressed(m, isCmd, to), "%s %q reply %v, username %q", c.chat, c.text, c.reply != nil, c.username)
	}
}
