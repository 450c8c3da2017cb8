package fsm_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// The jobs stream's cap never drops a job that the downstream generator
// (a consumer group) has not read and acknowledged: at the cap only acked
// entries are trimmed, and when there are none the job is refused
// (ErrJobsFull) with nothing written, the state neither. Real redis-server.
func TestJobsCapNeverDropsAnUnreadJob(t *testing.T) {
	const jobsCap = 100
	rc, ns := redistest.Client(t)
	shard := keys.New(ns).Shard(0)
	bg := context.Background()
	require.NoError(t, rc.HSet(bg, shard.Lease(), "token", 2).Err())
	ctx := lease.WithFence(bg, lease.Fence{Shard: shard, Token: 2})
	s := fsm.New(rc, time.Minute, fsm.WithJobsMaxLen(jobsCap))
	require.NoError(t, rc.XGroupCreateMkStream(bg, shard.Jobs(), "generator", "0").Err())

	commit := func(i int) (string, error) {
		key := fsm.Key{ChatID: int64(i), UserID: int64(i)}
		_, id, err := s.Commit(ctx, key, fsm.AnyRev, fsm.State{Screen: "MAIN_MENU"},
			&fsm.Job{Fields: []string{"job_id", strconv.Itoa(i)}})
		return id, err
	}
	var accepted []string
	refused := 0
	for i := 0; i < 3*jobsCap; i++ { // well past a stream node (100 entries), so MAXLEN ~ would trim
		id, err := commit(i)
		if err != nil {
			require.True(t, errors.Is(err, fsm.ErrJobsFull), "%v", err)
			refused++
			st, gerr := s.Get(ctx, fsm.Key{ChatID: int64(i), UserID: int64(i)})
			require.NoError(t, gerr)
			require.Zero(t, st.Rev, "a refused job writes no state")
			continue
		}
		accepted = append(accepted, id)
	}
	msgs, err := rc.XRange(bg, shard.Jobs(), "-", "+").Result()
	require.NoError(t, err)
	require.Equal(t, len(accepted), len(msgs), "every job the user was told about is still there (unread)")
	require.Equal(t, accepted[0], msgs[0].ID)
	require.Equal(t, jobsCap, len(accepted))
	require.Equal(t, 2*jobsCap, refused)

	// The generator reads 60 and acknowledges the first 50: at the cap those
	// 50 are trimmed, the 10 read but unacknowledged and the unread stay.
	got, err := rc.XReadGroup(bg, &redis.XReadGroupArgs{Group: "generator", Consumer: "g1",
		Streams: []string{shard.Jobs(), ">"}, Count: 60}).Result()
	require.NoError(t, err)
	require.Len(t, got[0].Messages, 60)
	for _, m := range got[0].Messages[:50] {
		require.NoError(t, rc.XAck(bg, shard.Jobs(), "generator", m.ID).Err())
	}
	id, err := commit(10_000)
	require.NoError(t, err)
	msgs, err = rc.XRange(bg, shard.Jobs(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, jobsCap-50+1)
	require.Equal(t, accepted[50], msgs[0].ID, "the oldest unacknowledged job is kept")
	require.Equal(t, id, msgs[len(msgs)-1].ID)

	// A second group that has read nothing holds everything.
	require.NoError(t, rc.XGroupCreate(bg, shard.Jobs(), "audit", "0").Err())
	for i := 0; len(msgs) < jobsCap; i++ {
		_, err := commit(20_000 + i)
		require.NoError(t, err)
		msgs, err = rc.XRange(bg, shard.Jobs(), "-", "+").Result()
		require.NoError(t, err)
	}
	_, err = commit(30_000)
	require.ErrorIs(t, err, fsm.ErrJobsFull)
	require.Contains(t, err.Error(), "shard 0 holds 100 jobs (cap 100)")
}
