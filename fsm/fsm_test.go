package fsm_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// A step is a compare-and-set on the revision, fenced by the lease's token
// in Redis and, under a gate, in this process first.
func TestStoreStepsAreCompareAndSetAndFenced(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx := context.Background()
	require.NoError(t, c.HSet(ctx, ks.Shard(0).Lease(), "token", 5).Err())
	s := fsm.New(c, 0)

	_, err := s.Get(ctx, 1, 2)
	require.ErrorIs(t, err, fsm.ErrNoFence)

	dctx := lease.WithFence(ctx, lease.Fence{Shard: ks.Shard(0), Token: 5})
	st, err := s.Get(dctx, 1, 2)
	require.NoError(t, err)
	require.Zero(t, st.Rev)
	st, err = s.Set(dctx, 1, 2, st.Rev, st.With("ASK", "n", "1"))
	require.NoError(t, err)
	require.Equal(t, "ASK", st.Screen)
	got, err := s.Screen(dctx, 1, 2)
	require.NoError(t, err)
	require.Equal(t, "ASK", got)

	// a second step from the old revision loses, with the current state
	_, err = s.Set(dctx, 1, 2, 0, fsm.State{Screen: "OTHER"})
	require.ErrorIs(t, err, fsm.ErrStale)
	var se *fsm.StaleError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "ASK", se.Current.Screen)
	require.Equal(t, "1", se.Current.Get("n"))

	// a token that is no longer the lease's: refused by Redis
	old := lease.WithFence(ctx, lease.Fence{Shard: ks.Shard(0), Token: 4})
	_, err = s.Set(old, 1, 2, fsm.AnyRev, fsm.State{Screen: "X"})
	require.ErrorIs(t, err, fsm.ErrNotActive)
	// under a gate that says the shard is lost: refused before Redis
	gated := lease.WithGate(dctx, func(int, int64) bool { return false })
	_, err = s.Set(gated, 1, 2, fsm.AnyRev, fsm.State{Screen: "X"})
	require.ErrorIs(t, err, fsm.ErrNotActive)
	got, _ = s.Screen(dctx, 1, 2)
	require.Equal(t, "ASK", got, "nothing was written")
}
