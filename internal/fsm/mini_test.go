package fsm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// The embedded Redis of a single instance (REDIS_URL unset) is miniredis:
// the script must run there too.
func TestScriptRunsOnEmbeddedRedis(t *testing.T) {
	_, rc := redistest.Mini(t)
	shard := keys.New("tgd").Shard(0)
	require.NoError(t, rc.HSet(context.Background(), shard.Lease(), "token", 1).Err())
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 1})
	s := fsm.New(rc, time.Minute)
	st, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "CONFIRM"})
	require.NoError(t, err)
	_, id, err := s.Commit(ctx, k, st.Rev, fsm.State{Screen: "MAIN_MENU"}, &fsm.Job{Fields: []string{"job_id", "x"}})
	require.NoError(t, err)
	require.NotEmpty(t, id)
	_, err = s.Set(ctx, k, st.Rev, fsm.State{Screen: "X"})
	require.ErrorIs(t, err, fsm.ErrStale)
	stale := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 2})
	_, err = s.Set(stale, k, fsm.AnyRev, fsm.State{Screen: "X"})
	require.ErrorIs(t, err, lease.ErrFenced)
}
