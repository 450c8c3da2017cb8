package update

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
)

// The fixtures are copies of shared/fixtures/updates (realistic bodies as
// the Bot API sends them).
func TestScanFixtures(t *testing.T) {
	const alice, group, channel = 100200300, -1001234567890, -1009876543210
	want := map[string]Info{
		"callback_query.json":                        {Type: "callback_query", ChatID: alice, UserID: alice},
		"callback_query_inaccessible_message.json":   {Type: "callback_query", ChatID: alice, UserID: alice},
		"callback_query_inline_message.json":         {Type: "callback_query", ChatID: 0, UserID: alice},
		"channel_post.json":                          {Type: "channel_post", ChatID: channel, UserID: 0},
		"edited_message.json":                        {Type: "edited_message", ChatID: alice, UserID: alice},
		"inline_query.json":                          {Type: "inline_query", ChatID: 0, UserID: alice},
		"message_command_start.json":                 {Type: "message", ChatID: alice, UserID: alice},
		"message_command_with_botname_in_group.json": {Type: "message", ChatID: group, UserID: alice},
		"message_reaction.json":                      {Type: "message_reaction", ChatID: alice, UserID: alice},
		"message_text_in_topic.json":                 {Type: "message", ChatID: group, UserID: alice},
		"message_text_unicode.json":                  {Type: "message", ChatID: alice, UserID: alice},
		"my_chat_member_blocked.json":                {Type: "my_chat_member", ChatID: alice, UserID: alice},
		"poll_no_chat_no_user.json":                  {Type: "poll", ChatID: 0, UserID: 0},
		"pre_checkout_query.json":                    {Type: "pre_checkout_query", ChatID: 0, UserID: alice},
	}
	files, err := filepath.Glob(filepath.Join(updatetest.Dir(updatetest.Fixtures), "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(want), "every fixture has an expectation")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, ok := want[filepath.Base(f)]
			require.True(t, ok, "no expectation for %s", f)
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			var probe struct {
				UpdateID int64 `json:"update_id"`
			}
			require.NoError(t, json.Unmarshal(body, &probe))
			w.UpdateID = probe.UpdateID
			got, err := Scan(body)
			require.NoError(t, err)
			require.Equal(t, w, got)
			u, err := Decode(body, got)
			require.NoError(t, err)
			require.NoError(t, u.Incomplete, "the fixtures decode fully")
		})
	}
}

// testdata/kinds holds a body of every kind, and of kinds this package
// does not know (carrying values of discriminated types no update has yet:
// a menu button, an owned gift, a star transaction).
func TestScanEveryKind(t *testing.T) {
	want := map[string]struct {
		typ        string
		chat, user int64
	}{
		"message": {"message", -5, 9}, "edited_message": {"edited_message", -5, 9},
		"channel_post": {"channel_post", -5, 0}, "edited_channel_post": {"edited_channel_post", -5, 0},
		"business_connection": {"business_connection", 9, 9}, "business_message": {"business_message", -5, 9},
		"edited_business_message":   {"edited_business_message", -5, 9},
		"deleted_business_messages": {"deleted_business_messages", -5, 0}, "guest_message": {"guest_message", -5, 9},
		"message_reaction": {"message_reaction", -5, 9}, "message_reaction_count": {"message_reaction_count", -5, 0},
		"inline_query": {"inline_query", 0, 9}, "chosen_inline_result": {"chosen_inline_result", 0, 9},
		"callback_query": {"callback_query", -5, 9}, "shipping_query": {"shipping_query", 0, 9},
		"pre_checkout_query": {"pre_checkout_query", 0, 9}, "purchased_paid_media": {"purchased_paid_media", 0, 9},
		"poll": {"poll", 0, 0}, "poll_answer": {"poll_answer", 0, 9}, "poll_answer_voter_chat": {"poll_answer", -5, 0},
		"my_chat_member": {"my_chat_member", -5, 9}, "chat_member": {"chat_member", -5, 9},
		"chat_join_request": {"chat_join_request", -5, 9}, "chat_boost": {"chat_boost", -5, 0},
		"removed_chat_boost": {"removed_chat_boost", -5, 0}, "managed_bot": {"managed_bot", 0, 9},
		"subscription":        {"subscription", 0, 9},
		"unknown_menu_button": {TypeUnknown, -5, 0}, "unknown_owned_gift": {TypeUnknown, 0, 9},
		"unknown_star_transaction": {TypeUnknown, 0, 9},
	}
	files, err := filepath.Glob("testdata/kinds/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(want), "every body has an expectation")
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		w, ok := want[name]
		require.True(t, ok, "no expectation for %s", f)
		seen[w.typ] = true
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		got, err := Scan(body)
		require.NoError(t, err, name)
		require.Equal(t, w.typ, got.Type, name)
		require.Equal(t, w.chat, got.ChatID, name)
		require.Equal(t, w.user, got.UserID, name)
		u, err := Decode(body, got)
		require.NoError(t, err, name)
		require.NoError(t, u.Incomplete, "%s decodes fully", name)
		require.Equal(t, IsMessage(got.Type), u.Message() != nil, name)
	}
	for _, typ := range Types() {
		require.True(t, seen[typ], "no body of type %s", typ)
	}

	got, err := Scan([]byte(`{"update_id":0}`))
	require.NoError(t, err, "update_id 0 is an integer ≥ 0")
	require.Equal(t, Info{Type: TypeUnknown}, got)

	// a kind newer than this package: unknown, with its chat and user
	got, err = Scan([]byte(`{"update_id":4,"message_story":{"chat":{"id":-7},"from":{"id":8}},"later":{"chat":{"id":1}}}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 4, Type: TypeUnknown, ChatID: -7, UserID: 8}, got)
	got, err = Scan([]byte(`{"update_id":4,"gift_sent":{"user":{"id":8}}}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 4, Type: TypeUnknown, UserID: 8}, got)

	// a known kind wins over an unknown one; the taxonomy's order decides
	// between two known ones; a kind that holds no object does not count
	got, err = Scan([]byte(`{"later":{"chat":{"id":1}},"callback_query":{"from":{"id":2}},"message":{"chat":{"id":3}},"update_id":5}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 5, Type: "message", ChatID: 3}, got)
	got, err = Scan([]byte(`{"update_id":5,"message":null,"poll":{}}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 5, Type: "poll"}, got)
	got, err = Scan([]byte(`{"update_id":5,"message":{"chat":{"id":3}},"message":null}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 5, Type: TypeUnknown}, got, "the last of a repeated member counts, as in decoders")

	// ids that are not integers are no ids; escaped names mean the same
	got, err = Scan([]byte(`{"update_id":6,"message":{"chat":{"id":1.5},"from":{"id":"9"}}}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 6, Type: "message"}, got)
	got, err = Scan([]byte(`{"update\u005fid":7,"m\u0065ssage":{"ch\u0061t":{"id":-100}}}`))
	require.NoError(t, err)
	require.Equal(t, Info{UpdateID: 7, Type: "message", ChatID: -100}, got)
}

func TestScanRefusesWhatIsNotAnUpdate(t *testing.T) {
	for body, why := range map[string]string{
		``:                                     "not a JSON object",
		`  `:                                   "not a JSON object",
		`[]`:                                   "not a JSON object",
		`null`:                                 "not a JSON object",
		`"update_id"`:                          "not a JSON object",
		`{}`:                                   "no update_id",
		`{"message":{}}`:                       "no update_id",
		`{"update_id":"7"}`:                    "update_id is not a number",
		`{"update_id":null}`:                   "update_id is not a number",
		`{"update_id":true}`:                   "update_id is not a number",
		`{"update_id":{}}`:                     "update_id is not a number",
		`{"update_id":1.5}`:                    "update_id is not an integer",
		`{"update_id":1.0}`:                    "update_id is not an integer",
		`{"update_id":1e3}`:                    "update_id is not an integer",
		`{"update_id":-3}`:                     "update_id is negative",
		`{"update_id":9223372036854775808}`:    "update_id is out of the range",
		`{"update_id":7`:                       "unexpected end of input",
		`{"update_id":7,}`:                     "expecting string",
		`{"update_id":7} {}`:                   "the end of the body",
		`{"update_id":07}`:                     "expecting ',' or '}'",
		`{"update_id":7,"x":"a` + "\n" + `"}`:  "control characters",
		`{"update_id":7,"x":"\q"}`:             "expecting an escape",
		`{"update_id":7,"x":[1,]}`:             "invalid JSON",
		`{"update_id":7,"x":tru}`:              "expecting true",
		`{"update_id":7,"x":-}`:                "expecting a digit",
		`{"update_id":7,"x":` + deep(10000):    "nested deeper than 10000",
		"\xef\xbb\xbf" + `{"update_id":7}`:     "not a JSON object",
		`{"update_id":7,"x":"\u12"}`:           "expecting a hex digit",
		`{"update_id":7,"x":1.}`:               "expecting a digit",
		`{"update_id":7,"x":1e+}`:              "expecting a digit",
		`{"update_id":7 "x":1}`:                "expecting ',' or '}'",
		`{"update_id" 7}`:                      "expecting ':'",
		`{update_id:7}`:                        "expecting string",
		`{"update_id":7,"message":{"chat":{}}`: "unexpected end of input",
	} {
		_, err := Scan([]byte(body))
		require.Error(t, err, "%.60q", body)
		require.True(t, errors.Is(err, ErrNotUpdate), "%.60q: %v", body, err)
		require.Contains(t, err.Error(), why, "%.60q", body)
		_, err = Decode([]byte(body), Info{})
		if !strings.HasPrefix(strings.TrimSpace(body), "{") || !json.Valid([]byte(body)) {
			require.ErrorIs(t, err, ErrNotUpdate, "Decode refuses what is not an object: %.60q", body)
		}
	}
	for _, body := range []string{
		`{"update_id":9223372036854775807}`, `{"update_id":-0}`, ` {"update_id":1} ` + "\n",
		`{"update_id":7,"x":` + deep(9999) + `}`, `{"update_id":7,"x":"\ud800 \u00e9 \"\\\/\b\f\n\r\t","y":"` + "\xff\xfe" + `"}`,
		`{"update_id":7,"update_id":"x","update_id":8}`, `{"update_id":7,"x":[1,-0.5e-3,2E+10,true,false,null,{},[]]}`,
	} {
		_, err := Scan([]byte(body))
		require.NoError(t, err, "%.60q", body)
		require.True(t, json.Valid([]byte(body)))
	}
}

// deep is n nested arrays, closed.
func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"update_id":1,"message":{"chat":{"id":1}}}`, `{"update_id":0}`, `{"update_id":-1}`,
		`{"update_id":1e3}`, `{"update_id":1,"x":"\u00e9\ud800"}`, `{"update_id":6,"update_id":7}`, `[`, `{"a":` + deep(20),
		`{"update\u005fid":3}`, "{\"update_id\":1,\"x\":\"\xff\"}", `{"update_id":18446744073709551616}`} {
		f.Add([]byte(s))
	}
	for _, b := range updatetest.Bodies(f, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		f.Add(b.JSON)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := Scan(body)
		id, ok := updatetest.IsUpdate(body)
		if ok != (err == nil) {
			t.Fatalf("%.80q: Scan error %v, encoding/json says update %v", body, err, ok)
		}
		if !ok {
			return
		}
		if info.UpdateID != id {
			t.Fatalf("%.80q: update_id %d, encoding/json %d", body, info.UpdateID, id)
		}
		u, err := Decode(body, info)
		if err != nil || u.Telego == nil || int64(u.Telego.UpdateID) != id {
			t.Fatalf("%.80q: an accepted body must decode: %v", body, err)
		}
	})
}
