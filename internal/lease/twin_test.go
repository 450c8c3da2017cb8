package lease

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestTwinsUnderOneIDNeverTakeEachOthersLease: two Managers of different
// processes under the same Instance (a process paused past its heartbeat
// and replaced, then woken) never take the other's live lease: the first
// keeps it, with its token, for several TTLs; the twin stays PASSIVE.
func TestTwinsUnderOneIDNeverTakeEachOthersLease(t *testing.T) {
	_, ks := realClient(t)
	url := redistest.URL(t)
	const ttl = time.Second
	a := newNode(t, "same", dial(t, url), ks, Config{TTL: ttl}).start(t)
	first, tok := waitOneActive(t, 3*time.Second, 0, a)
	require.Equal(t, a, first)
	twin := newNode(t, "same", dial(t, url), ks, Config{TTL: ttl}).start(t)
	require.Never(t, func() bool {
		return !slices.Equal(activeOf(a, twin), []*node{a}) || a.m.Status()[0].Token != tok
	}, 3*ttl, 10*time.Millisecond, "only the first process is ACTIVE, and it keeps its token")
	require.NotContains(t, a.log.String(), "LEASE_LOST", "the twin never took the lease")
	a.stop(t)
	_, tok2 := waitOneActive(t, 3*time.Second, tok, twin)
	require.Greater(t, tok2, tok, "a released lease goes to the twin, with a new token")
}
