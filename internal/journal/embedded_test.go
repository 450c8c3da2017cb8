package journal

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestEmbeddedRedis: on the embedded Redis (miniredis: Lua, no MEMORY
// USAGE) the journal keeps chains and holds its budget by the segments'
// own counts.
func TestEmbeddedRedis(t *testing.T) {
	_, c := redistest.Mini(t)
	o := Options{Client: c, Keys: keys.New("emb"), MaxMemory: MinMaxMemory}
	l := chainLoad{failEvery: 20, users: 50, ingest: []instance{newInstance(t, o, "solo", telemetry.RoleActive)}}
	l.dispatch = l.ingest[0]
	l.run(0, 5000, 20000)
	l.flushAll(t)
	require.Eventually(t, func() bool {
		st, err := l.dispatch.j.Stats(context.Background())
		return err == nil && st.Evicted > 0 && st.Used <= MinMaxMemory
	}, 10*time.Second, 20*time.Millisecond)
	st, err := l.dispatch.j.Stats(context.Background())
	require.NoError(t, err)
	t.Logf("used %d of %d (estimated), %d segments evicted: %+v", st.Used, st.Budget, st.Evicted, st.Tiers)
	chain, err := l.dispatch.j.Chain(context.Background(), l.update(4999).CID)
	require.NoError(t, err)
	require.Len(t, chain, 9)
	chain, err = l.dispatch.j.Chain(context.Background(), l.update(0).CID) // refused: kept longer
	require.NoError(t, err)
	require.Len(t, chain, 8)
	require.Zero(t, l.failures())
}
