package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// TestEveryUpdateTelegramSendsIsTaken posts, to two real instances, the
// repository's realistic updates, a body of every kind (and of kinds the
// service does not know), bodies with a value telego does not know in each
// field it decodes by a discriminator, and an update_id of 0. Each is
// answered 200 at the first post, dispatched exactly once to DISPATCH_OK,
// never retried nor dead-lettered; each one telego cannot fully decode is
// logged once as DECODE_INCOMPLETE (UNSUPPORTED_PAYLOAD). The bot, which
// learned its username from getMe, answered /start@dispatcher_bot in the
// group and stayed silent on the group's chatter.
func TestEveryUpdateTelegramSendsIsTaken(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(2, "kinds")
	require.NotNil(t, e.Active(5*time.Second, ins))
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	want := map[int64]string{}
	refused := map[int64]bool{}
	for _, b := range updatetest.Bodies(t, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		info, err := update.Scan(b.JSON)
		require.NoError(t, err, b.Name)
		_, dup := want[info.UpdateID]
		require.False(t, dup, "%s/%s: update_id %d used twice", b.Set, b.Name, info.UpdateID)
		want[info.UpdateID] = b.Set + "/" + b.Name
		refused[info.UpdateID] = b.Set == updatetest.TelegoRefuses
		require.NoError(t, d.Send(ctx, info.UpdateID, b.JSON), b.Name)
	}
	want[0] = "update_id 0"
	require.NoError(t, d.Send(ctx, 0, world.StartMessage(0, 4_200_001)))
	require.Equal(t, map[int]int{200: len(want)}, d.Answers(), "every body answered 200 at its first post")

	ok := requireAllOK(t, e, want, 20*time.Second)
	requireDrained(t, e, 10*time.Second)
	lines := e.Cluster.Lines()
	for id, name := range want {
		require.Equal(t, 1, ok[id], "%s: one DISPATCH_OK", name)
	}
	require.Empty(t, world.LinesNamed(lines, "DISPATCH_FAIL"), "no dispatch failed")
	require.Empty(t, world.LinesNamed(lines, "DEAD_LETTERED"), "nothing dead-lettered")
	require.Empty(t, world.LinesNamed(lines, "WEBHOOK_REJECTED"))
	incomplete := uidsNamed(lines, "DECODE_INCOMPLETE")
	for id, name := range want {
		if refused[id] {
			require.Equal(t, 1, incomplete[id], "%s: DECODE_INCOMPLETE once", name)
		} else {
			require.Zero(t, incomplete[id], "%s decodes fully", name)
		}
	}
	for _, l := range world.LinesNamed(lines, "DECODE_INCOMPLETE") {
		require.Equal(t, "UNSUPPORTED_PAYLOAD", l.Str("reason_code"))
	}

	require.NotEmpty(t, e.Bot.CallsOf("getMe"), "the bot asked for its username")
	const group = "-1001234567890" // of the fixtures and the telego-refuses bodies
	var toGroup []string
	for _, c := range e.Bot.CallsOf("sendMessage") {
		if c.Chat() == group {
			toGroup = append(toGroup, fmt.Sprint(c.Params["text"]))
		}
		require.Nil(t, c.Params["message_thread_id"], "the chatter in the topic was not answered")
	}
	require.Equal(t, []string{"Choose a category"}, toGroup,
		"only message_command_with_botname_in_group.json was for the bot in the group")
	require.NotNil(t, menuFor(e, 4_200_001), "update_id 0 was answered")
}

// menuFor returns the sendMessage to chat, if any.
func menuFor(e *world.World, chat int64) any {
	for _, c := range e.Bot.CallsOf("sendMessage") {
		if c.Chat() == fmt.Sprint(chat) {
			return c
		}
	}
	return nil
}
