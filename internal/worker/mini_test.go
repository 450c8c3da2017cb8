package worker

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// The embedded Redis of sandbox mode and `dispatcher smoke` is miniredis.
func TestWorksOnMiniredis(t *testing.T) {
	_, c := redistest.Mini(t)
	rec := &recorder{}
	h := newHarness(t, c, "mini", 1, rec, nil)
	h.start(0, 1)
	for i := int64(1); i <= 30; i++ {
		h.enqueue(i, i%4+1)
	}
	h.eventually("all dispatched", func() bool { return rec.callCount() == 30 && h.drained(0) })
	_, perChat, maxChat, _ := rec.snapshot()
	require.Equal(t, 1, maxChat)
	for _, ids := range perChat {
		require.True(t, slices.IsSorted(ids))
	}
}
