package lease

import (
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
	for deadline := time.Now().Add(3 * ttl); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.Equal(t, []*node{a}, activeOf(a, twin), "only the first process is ACTIVE")
		require.Equal(t, tok, a.m.Status()[0].Token, "the first process keeps its token")
	}
	require.NotContains(t, a.log.String(), "LEASE_LOST", "the twin never took the lease")
	a.stop(t)
	_, tok2 := waitOneActive(t, 3*time.Second, tok, twin)
	require.Greater(t, tok2, tok, "a released lease goes to the twin, with a new token")
}
