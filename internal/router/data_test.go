package router

import (
	"strings"
	"testing"

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
		text, username, name, args string
		isCmd, ours                bool
	}{
		{"/start", "", "start", "", true, true},
		{"/Start hello world", "", "start", "hello world", true, true},
		{"/start@dispatcher_bot", "dispatcher_bot", "start", "", true, true},
		{"/start@Dispatcher_Bot", "dispatcher_bot", "start", "", true, true},
		{"/start@other_bot", "dispatcher_bot", "start", "", true, false},
		{"/start@other_bot", "", "start", "", true, true},
		{"/debug 100200300", "", "debug", "100200300", true, true},
		{"/debug\n42", "", "debug", "42", true, true},
		{"hello", "", "", "", false, false},
		{"/", "", "", "", false, false},
		{"/@bot", "", "", "", false, false},
	}
	for _, c := range cases {
		m := &messageStub{text: c.text}
		name, args, isCmd, ours := parseCommand(m.msg(), c.username)
		require.Equal(t, c.isCmd, isCmd, c.text)
		if !isCmd {
			continue
		}
		require.Equal(t, c.name, name, c.text)
		require.Equal(t, c.args, args, c.text)
		require.Equal(t, c.ours, ours, c.text)
	}
}
