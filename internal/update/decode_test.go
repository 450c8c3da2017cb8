package update

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"
)

// Pieces of update bodies, shaped as the Bot API sends them.
const (
	tChat = `"chat":{"id":-1001234567890,"type":"supergroup","title":"T"}`
	tFrom = `"from":{"id":100200300,"is_bot":false,"first_name":"Alice"}`
	tUser = `{"id":100200300,"is_bot":false,"first_name":"Alice"}`
	tMsg  = `"message_id":14,"date":1764300000,` + tChat + `,` + tFrom
)

// refused says, for each body of testdata/telego-refuses, what Decode
// must leave out and what it must still have decoded. Those bodies hold,
// for every field reachable from an Update that telego v1.11.1 decodes by
// a discriminator (its UnmarshalJSON switches on a "type", "source" or
// "status" and refuses values it does not know), a value telego does not
// know; and fields telego decodes into an interface without a
// discriminator (so never), and fields whose shape changed.
var refused = map[string]struct {
	parts []string // paths left out
	check func(t *testing.T, u *telego.Update)
}{
	"message_forward_origin_new_type": {[]string{"message.forward_origin"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "/start", u.Message.Text)
		require.Equal(t, int64(-1001234567890), u.Message.Chat.ID)
		require.Nil(t, u.Message.ForwardOrigin)
	}},
	"message_external_reply_origin_new_type": {[]string{"message.external_reply"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "user", u.Message.ForwardOrigin.OriginType())
		require.Nil(t, u.Message.ExternalReply, "telego needs the origin of an external reply")
	}},
	"message_paid_media_new_type": {[]string{"message.paid_media.paid_media[1]"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, 5, u.Message.PaidMedia.StarCount)
		require.Len(t, u.Message.PaidMedia.PaidMedia, 2)
		require.Equal(t, "photo", u.Message.PaidMedia.PaidMedia[0].MediaType())
		require.Equal(t, "preview", u.Message.PaidMedia.PaidMedia[1].MediaType())
	}},
	"message_external_reply_paid_media_new_type": {[]string{"message.external_reply.paid_media.paid_media[0]"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "hidden_user", u.Message.ExternalReply.Origin.OriginType())
		require.Empty(t, u.Message.ExternalReply.PaidMedia.PaidMedia)
	}},
	"message_chat_background_new_type": {[]string{"message.chat_background_set"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.Message.ChatBackgroundSet)
		require.Equal(t, 14, u.Message.MessageID)
	}},
	"message_chat_background_fill_new_type": {[]string{"message.chat_background_set"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.Message.ChatBackgroundSet)
	}},
	// telego v1.11.1 has no decoder for a pattern's fill: never decodes
	"message_chat_background_pattern": {[]string{"message.chat_background_set"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, 14, u.Message.MessageID)
	}},
	// and none for the message of poll_option_added either
	"message_poll_option_added": {[]string{"message.poll_option_added.poll_message"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "yes", u.Message.PollOptionAdded.OptionText)
	}},
	"message_rich_block_new_type": {[]string{"message.rich_message.blocks[1]"}, func(t *testing.T, u *telego.Update) {
		require.Len(t, u.Message.RichMessage.Blocks, 2)
		require.Equal(t, "divider", u.Message.RichMessage.Blocks[1].BlockType())
	}},
	"message_rich_text_new_type": {[]string{"message.rich_message.blocks[0]"}, func(t *testing.T, u *telego.Update) {
		require.Len(t, u.Message.RichMessage.Blocks, 1)
	}},
	"message_pinned_message_origin_new_type": {[]string{"message.pinned_message.forward_origin"}, func(t *testing.T, u *telego.Update) {
		require.True(t, u.Message.PinnedMessage.IsAccessible())
		require.Equal(t, "pinned", u.Message.PinnedMessage.Message().Text)
	}},
	"callback_query_message_origin_new_type": {[]string{"callback_query.message.forward_origin"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "v1:cat:image@x", u.CallbackQuery.Data)
		require.Equal(t, 101, u.CallbackQuery.Message.GetMessageID(), "the button's message is kept, to edit it")
	}},
	"message_reaction_new_type": {[]string{"message_reaction.new_reaction[1]"}, func(t *testing.T, u *telego.Update) {
		r := u.MessageReaction
		require.Equal(t, 3, r.MessageID)
		require.Len(t, r.OldReaction, 1)
		require.Len(t, r.NewReaction, 2)
		require.Equal(t, "paid", r.NewReaction[1].ReactionType())
	}},
	"message_reaction_count_new_type": {[]string{"message_reaction_count.reactions[0]"}, func(t *testing.T, u *telego.Update) {
		require.Len(t, u.MessageReactionCount.Reactions, 1)
		require.Equal(t, 1, u.MessageReactionCount.Reactions[0].TotalCount)
	}},
	"my_chat_member_status_new": {[]string{"my_chat_member"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.MyChatMember, "telego needs both members")
	}},
	"chat_member_status_new": {[]string{"chat_member"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.ChatMember)
	}},
	"chat_boost_source_new": {[]string{"chat_boost.boost"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, int64(-1001234567890), u.ChatBoost.Chat.ID)
	}},
	"removed_chat_boost_source_new": {[]string{"removed_chat_boost"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.RemovedChatBoost)
	}},
	"message_field_shape_changed": {[]string{"message.entities[1].offset", "message.link_preview_options"}, func(t *testing.T, u *telego.Update) {
		require.Equal(t, "hi", u.Message.Text)
		require.Len(t, u.Message.Entities, 2)
		require.Equal(t, 1, u.Message.Entities[1].Length)
	}},
	"message_not_an_object": {[]string{"message"}, func(t *testing.T, u *telego.Update) {
		require.Nil(t, u.Message)
	}},
}

func TestDecodeKeepsWhatTelegoCanDecode(t *testing.T) {
	files, err := filepath.Glob("testdata/telego-refuses/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(refused), "every body has an expectation")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			c, ok := refused[name]
			require.True(t, ok, "no expectation for %s", f)
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			var strict telego.Update
			require.Error(t, json.Unmarshal(body, &strict), "the body must be one telego refuses")
			info, err := Scan(body)
			require.NoError(t, err)
			u, err := Decode(body, info)
			require.NoError(t, err)
			require.Equal(t, body, u.Raw)
			require.EqualValues(t, info.UpdateID, u.Telego.UpdateID)
			require.ErrorIs(t, u.Incomplete, ErrUnsupported)
			var ie *IncompleteError
			require.ErrorAs(t, u.Incomplete, &ie)
			var paths []string
			for _, p := range ie.Parts {
				paths = append(paths, p.Path)
				require.NotEmpty(t, p.Err)
			}
			require.Equal(t, c.parts, paths, "%v", u.Incomplete)
			c.check(t, u.Telego)
		})
	}
	// the control: a known fill decodes fully
	body := []byte(`{"update_id":1,"message":{` + tMsg + `,"chat_background_set":{"type":{"type":"fill","fill":{"type":"solid","color":1},"dark_theme_dimming":10}}}}`)
	u, err := Parse(body)
	require.NoError(t, err)
	require.NoError(t, u.Incomplete)
	require.Equal(t, "fill", u.Telego.Message.ChatBackgroundSet.Type.BackgroundType())
}

// Types telego decodes by a discriminator that no update carries (results
// of methods the service does not call): the same pruning keeps what
// decodes of them.
func TestPruneMethodResultTypes(t *testing.T) {
	cases := []struct {
		typ   reflect.Type
		body  string
		parts []string
	}{
		{reflect.TypeFor[telego.StarTransaction](),
			`{"id":"t","amount":5,"date":1,"source":{"type":"telegram_stars_bank"},"receiver":{"type":"user","transaction_type":"x","user":` + tUser + `}}`,
			[]string{"source"}},
		{reflect.TypeFor[telego.OwnedGifts](),
			`{"total_count":2,"gifts":[{"type":"regular","gift":{"id":"g","sticker":{"file_id":"f","file_unique_id":"u","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false},"star_count":1},"send_date":1},{"type":"collectible"}]}`,
			[]string{"gifts[1]"}},
		{reflect.TypeFor[telego.ChatFullInfo](),
			`{"id":1,"type":"private","accent_color_id":1,"max_reaction_count":3,"accepted_gift_types":{},"available_reactions":[{"type":"emoji","emoji":"👍"},{"type":"sticker"}]}`,
			[]string{"available_reactions[1]"}},
	}
	for _, c := range cases {
		require.Error(t, json.Unmarshal([]byte(c.body), reflect.New(c.typ).Interface()), "%s: must be refused as it is", c.typ)
		p := pruner{budget: maxTrialWork}
		kept, err := p.prune(c.typ, []byte(c.body), "", 0)
		require.NoError(t, err, c.typ.String())
		require.NoError(t, json.Unmarshal(kept, reflect.New(c.typ).Interface()))
		var paths []string
		for _, part := range p.parts {
			paths = append(paths, part.Path)
		}
		require.Equal(t, c.parts, paths, c.typ.String())
	}
}

func TestDecodeBoundsItsWork(t *testing.T) {
	// a reply chain far deeper than anything Telegram sends (it nests
	// replies one level), with a part telego refuses at the bottom. telego's
	// own JSON decoder took hours for 25 levels (it is replaced, see
	// telego.go); what nests deeper than maxDecodeDepth is left out before
	// decoding, and pruning stops at its own depth bound: the update is
	// dispatched with its first messages.
	for _, n := range []int{25, 100} {
		body := `{"message_id":1,"date":1,"forward_origin":{"type":"story","date":1}}`
		for i := 0; i < n; i++ {
			body = `{"message_id":1,"date":1,` + tChat + `,"forward_origin":{"type":"user","date":1,"sender_user":` + tUser + `},"reply_to_message":` + body + `}`
		}
		u, err := Parse([]byte(`{"update_id":1,"message":` + body + `}`))
		require.NoError(t, err)
		require.ErrorIs(t, u.Incomplete, ErrUnsupported)
		require.Equal(t, 1, u.Telego.Message.MessageID)
		require.Equal(t, "user", u.Telego.Message.ReplyToMessage.ForwardOrigin.OriginType())
		if n == 100 {
			require.Contains(t, u.Incomplete.Error(), "nested deeper than 64 levels")
		}
	}

	// a long list with one element telego refuses: each element is tried
	// on its own, so the work grows with the list
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString(`{"type":"emoji","emoji":"👍"},`)
	}
	body := `{"update_id":1,"message_reaction":{` + tChat + `,"message_id":3,"date":1,"old_reaction":[],"new_reaction":[` +
		b.String() + `{"type":"sticker"}]}}`
	u, err := Parse([]byte(body))
	require.NoError(t, err)
	require.Len(t, u.Telego.MessageReaction.NewReaction, 5000)
	require.EqualError(t, u.Incomplete, `message_reaction.new_reaction[5000]: unknown reaction type: "sticker"`)

	// and pruning stops at its bound: 256 KiB of entities that all fail
	b.Reset()
	for b.Len() < 256<<10 {
		b.WriteString(`{"type":"bold","offset":"x","length":1},`)
	}
	body = `{"update_id":1,"message":{` + tMsg + `,"text":"hi","entities":[` + strings.TrimSuffix(b.String(), ",") + `]}}`
	u, err = Parse([]byte(body))
	require.NoError(t, err)
	require.Equal(t, "hi", u.Telego.Message.Text)
	var ie *IncompleteError
	require.ErrorAs(t, u.Incomplete, &ie)
	last := ie.Parts[len(ie.Parts)-1]
	require.Equal(t, errBudget.Error(), last.Err, "%d parts, last %s", len(ie.Parts), last.Path)
	require.Contains(t, u.Incomplete.Error(), "more", "the error names ten parts and counts the rest")
}
