package router_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// TestPartlyDecodedUpdatesAreRouted: an update telego cannot fully decode
// is routed with what did decode: a command forwarded from a story (an
// origin newer than telego), a click on such a message, whose message is
// kept to be edited.
func TestPartlyDecodedUpdatesAreRouted(t *testing.T) {
	e := newEnv(t, router.Options{SilenceGuard: true})
	var got []*router.Ctx
	e.r.Command("start", "start", func(c *router.Ctx) error { got = append(got, c); c.Accept("MAIN_MENU"); return nil })
	e.r.Callback("go", "go", func(c *router.Ctx) error {
		got = append(got, c)
		c.Accept("MAIN_MENU")
		_ = c.Answer("")
		_, msg, ok := c.SourceMessage()
		require.True(t, ok)
		_ = c.Edit(msg, "edited", nil) // the fake never sent 101: it refuses, as Telegram would
		return nil
	})
	for _, raw := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"from":{"id":5,"is_bot":false,"first_name":"U"},
			"text":"/start","forward_origin":{"type":"story","date":1}}}`,
		`{"update_id":2,"callback_query":{"id":"q","from":{"id":5,"is_bot":false,"first_name":"U"},"chat_instance":"1","data":"v1:go",
			"message":{"message_id":101,"date":5,"chat":{"id":5,"type":"private"},"text":"menu","forward_origin":{"type":"story","date":1}}}}`,
	} {
		u := parse(t, raw)
		require.ErrorIs(t, u.Incomplete, update.ErrUnsupported)
		require.NoError(t, e.r.Handle(context.Background(), u))
	}
	require.Len(t, got, 2)
	require.Equal(t, "start", got[0].Command)
	require.NotNil(t, got[0].Update.Raw)
	require.Equal(t, "go", string(got[1].Data.Action))
	var edits []string
	for _, c := range e.fake.Calls() {
		if c.Method == "editMessageText" {
			edits = append(edits, num(c.Params["message_id"]))
		}
	}
	require.Equal(t, []string{"101"}, edits, "the edit is made on the button's message")

	// a kind no route takes, or one telego could not decode at all, is
	// left alone: no event, no call
	before := len(e.fake.Calls())
	for _, raw := range []string{
		`{"update_id":3,"message_story":{"chat":{"id":5}}}`,
		`{"update_id":4,"my_chat_member":{"chat":{"id":5,"type":"private"},"from":{"id":5,"is_bot":false,"first_name":"U"},"date":1,
			"old_chat_member":{"status":"member","user":{"id":5,"is_bot":false,"first_name":"U"}},"new_chat_member":{"status":"probation"}}}`,
		`{"update_id":5,"message":"hello"}`,
	} {
		require.NoError(t, e.r.Handle(context.Background(), parse(t, raw)))
	}
	require.Len(t, e.fake.Calls(), before)
}

// TestRepliesGoWhereTheUpdateCameFrom: a reply to a topic message goes to
// its topic, one in a business chat through its business connection; a
// message of a reply thread outside a forum (is_topic_message false) gets
// no topic.
func TestRepliesGoWhereTheUpdateCameFrom(t *testing.T) {
	e := newEnv(t, router.Options{Username: "dispatcher_bot"})
	e.r.Command("start", "start", func(c *router.Ctx) error {
		c.Accept("MAIN_MENU")
		_, err := c.Reply("hi", nil)
		return err
	})
	for _, raw := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup","is_forum":true},
			"from":{"id":5,"is_bot":false,"first_name":"U"},"message_thread_id":7,"is_topic_message":true,"text":"/start@dispatcher_bot"}}`,
		`{"update_id":2,"business_message":{"message_id":1,"date":1,"chat":{"id":77,"type":"private"},"business_connection_id":"bc1",
			"from":{"id":77,"is_bot":false,"first_name":"C"},"text":"/start"}}`,
		`{"update_id":3,"message":{"message_id":1,"date":1,"chat":{"id":-200,"type":"supergroup"},
			"from":{"id":5,"is_bot":false,"first_name":"U"},"message_thread_id":9,"text":"/start@dispatcher_bot"}}`,
	} {
		require.NoError(t, e.r.Handle(context.Background(), parse(t, raw)))
	}
	sent := e.fake.CallsOf("sendMessage")
	require.Len(t, sent, 3)
	require.Equal(t, "-100", sent[0].Chat())
	require.EqualValues(t, "7", num(sent[0].Params["message_thread_id"]))
	require.Nil(t, sent[0].Params["business_connection_id"])
	require.Equal(t, "77", sent[1].Chat())
	require.Equal(t, "bc1", sent[1].Params["business_connection_id"])
	require.Nil(t, sent[1].Params["message_thread_id"])
	require.Equal(t, "-200", sent[2].Chat())
	require.Nil(t, sent[2].Params["message_thread_id"], "not a forum topic")
}

// num renders a parameter the fake decoded (a json.Number) as text.
func num(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}
