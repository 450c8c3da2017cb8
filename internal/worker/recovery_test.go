package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClaimsAPredecessorsPendingEntriesBeforeNewOnes(t *testing.T) {
	rec := &recorder{}
	// One worker: the order of dispatch is the order of taking.
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.Workers = 1 })
	ctx := context.Background()
	for i := int64(1); i <= 6; i++ {
		h.enqueue(i, 100+i) // six different chats: order here is not per-chat order
	}
	// A predecessor under token 1 took three entries and was killed.
	h.lease(0, 1)
	taken, _, err := h.q.ReadNew(ctx, 0, 1, "killed-instance", 3)
	require.NoError(t, err)
	require.Len(t, taken, 3)
	for i := int64(7); i <= 9; i++ {
		h.enqueue(i, 100+i)
	}

	h.start(0, 2)
	h.eventually("all done", func() bool { return rec.callCount() == 9 && h.drained(0) })
	calls, _, _, _ := rec.snapshot()
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}, calls)
	picks := h.log.events("QUEUE_PICK")
	require.Len(t, picks, 9)
	for i, p := range picks {
		want := int64(1)
		if i < 3 {
			want = 2 // taken over: the predecessor's delivery counts
		}
		require.EqualValues(t, want, num(p["delivery"]), "update %d", i+1)
	}
}

func TestRecoveryKeepsChatOrderAcrossTheTakeover(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.Workers = 4 })
	ctx := context.Background()
	for i := int64(1); i <= 40; i++ {
		h.enqueue(i, 1+i%4)
	}
	h.lease(0, 1)
	_, _, err := h.q.ReadNew(ctx, 0, 1, "killed-instance", 13)
	require.NoError(t, err)
	h.start(0, 2)
	h.eventually("all done", func() bool { return rec.callCount() == 40 && h.drained(0) })
	_, perChat, maxChat, _ := rec.snapshot()
	require.Equal(t, 1, maxChat)
	for chat, ids := range perChat {
		for i := 1; i < len(ids); i++ {
			require.Less(t, ids[i-1], ids[i], "chat %d: %v", chat, ids)
		}
	}
}
