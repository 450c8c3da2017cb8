package fsm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func setup(t *testing.T, opts ...fsm.Option) (*fsm.Store, keys.Shard, context.Context) {
	t.Helper()
	rc, ns := redistest.Client(t)
	shard := keys.New(ns).Shard(3)
	require.NoError(t, rc.HSet(context.Background(), shard.Lease(), "holder", "me", "token", 5).Err())
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 5})
	return fsm.New(rc, time.Minute, opts...), shard, ctx
}

var k = fsm.Key{ChatID: -100123, UserID: 42}

func TestGetOfNoStateIsZero(t *testing.T) {
	s, _, ctx := setup(t)
	st, err := s.Get(ctx, k)
	require.NoError(t, err)
	require.Equal(t, fsm.State{}, st)
	screen, err := s.Screen(ctx, k.ChatID, k.UserID)
	require.NoError(t, err)
	require.Empty(t, screen)
}

func TestSetIsCompareAndSet(t *testing.T) {
	now := time.UnixMilli(1_764_300_000_000)
	s, _, ctx := setup(t, fsm.WithClock(func() time.Time { return now }))
	ctx = telemetry.WithUpdate(ctx, telemetry.Update{CID: "0badcafe", UpdateID: 9})

	first, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "MAIN_MENU"})
	require.NoError(t, err)
	require.Equal(t, now.UnixMilli(), first.Rev, "a user with no state starts at the clock")
	require.EqualValues(t, 9, first.UpdateID)

	second, err := s.Set(ctx, k, first.Rev, first.With("MODEL_PICK", "category", "image"))
	require.NoError(t, err)
	require.Equal(t, first.Rev+1, second.Rev)

	_, err = s.Set(ctx, k, first.Rev, first.With("MODEL_PICK", "category", "video"))
	require.ErrorIs(t, err, fsm.ErrStale)
	cur, ok := fsm.IsStale(err)
	require.True(t, ok)
	require.Equal(t, second.Rev, cur.Rev)
	require.Equal(t, "image", cur.Get("category"))
	require.EqualValues(t, 9, cur.UpdateID, "the stale error names the update that wrote the state")

	got, err := s.Get(ctx, k)
	require.NoError(t, err)
	require.Equal(t, second.Rev, got.Rev)
	require.Equal(t, "MODEL_PICK", string(got.Screen))
	require.Equal(t, map[string]string{"category": "image"}, got.Values)

	// AnyRev always writes
	third, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "MAIN_MENU"})
	require.NoError(t, err)
	require.Equal(t, second.Rev+1, third.Rev)

	// expecting a state where there is none is stale too
	_, err = s.Set(ctx, fsm.Key{ChatID: 1, UserID: 1}, 5, fsm.State{Screen: "X"})
	cur, ok = fsm.IsStale(err)
	require.True(t, ok)
	require.Zero(t, cur.Rev)
}

func TestStateExpiresAndRevisionsStillGrow(t *testing.T) {
	rc, ns := redistest.Client(t)
	shard := keys.New(ns).Shard(0)
	require.NoError(t, rc.HSet(context.Background(), shard.Lease(), "token", 1).Err())
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 1})
	clock := time.UnixMilli(1_000_000)
	s := fsm.New(rc, 2*time.Second, fsm.WithClock(func() time.Time { return clock }))
	st, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "A"})
	require.NoError(t, err)
	ttl, err := rc.PTTL(context.Background(), shard.FSM(k.ChatID, k.UserID)).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Second)
	require.LessOrEqual(t, ttl, 2*time.Second)

	require.NoError(t, rc.Del(context.Background(), shard.FSM(k.ChatID, k.UserID)).Err()) // as if expired
	clock = clock.Add(time.Hour)
	again, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "A"})
	require.NoError(t, err)
	require.Greater(t, again.Rev, st.Rev, "a button from before the expiry can never match")
}

func TestWritesAreFenced(t *testing.T) {
	s, shard, ctx := setup(t)
	_, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "A"})
	require.NoError(t, err)

	stale := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 4})
	_, err = s.Set(stale, k, fsm.AnyRev, fsm.State{Screen: "B"})
	require.ErrorIs(t, err, lease.ErrFenced)
	_, _, err = s.Commit(stale, k, fsm.AnyRev, fsm.State{Screen: "B"}, &fsm.Job{Fields: []string{"a", "b"}})
	require.ErrorIs(t, err, lease.ErrFenced)

	got, err := s.Get(ctx, k)
	require.NoError(t, err)
	require.Equal(t, "A", string(got.Screen), "a fenced write changes nothing")

	_, err = s.Get(context.Background(), k)
	require.ErrorIs(t, err, fsm.ErrNoFence)
	_, err = s.Set(context.Background(), k, fsm.AnyRev, fsm.State{})
	require.ErrorIs(t, err, fsm.ErrNoFence)
}

func TestCommitAppendsTheJobWithTheTransition(t *testing.T) {
	rc, ns := redistest.Client(t)
	shard := keys.New(ns).Shard(1)
	require.NoError(t, rc.HSet(context.Background(), shard.Lease(), "token", 2).Err())
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 2})
	s := fsm.New(rc, time.Minute)
	st, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "CONFIRM"})
	require.NoError(t, err)

	job := &fsm.Job{Fields: []string{"job_id", "abc", "prompt", "a fox"}}
	next, id, err := s.Commit(ctx, k, st.Rev, fsm.State{Screen: "MAIN_MENU"}, job)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	require.Equal(t, st.Rev+1, next.Rev)

	// the same confirm again loses the compare-and-set: no second job
	_, _, err = s.Commit(ctx, k, st.Rev, fsm.State{Screen: "MAIN_MENU"}, job)
	require.ErrorIs(t, err, fsm.ErrStale)
	msgs, err := rc.XRange(context.Background(), shard.Jobs(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, id, msgs[0].ID)
	require.Equal(t, map[string]any{"job_id": "abc", "prompt": "a fox"}, msgs[0].Values)

	_, _, err = s.Commit(ctx, k, fsm.AnyRev, fsm.State{}, &fsm.Job{Fields: []string{"odd"}})
	require.Error(t, err)
}

func TestConcurrentTransitionsFromOneRevisionLetOneThrough(t *testing.T) {
	s, _, ctx := setup(t)
	st, err := s.Set(ctx, k, fsm.AnyRev, fsm.State{Screen: "MAIN_MENU"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, stale := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Set(ctx, k, st.Rev, st.With("MODEL_PICK"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case assert.ErrorIs(t, err, fsm.ErrStale):
				stale++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, 19, stale)
	got, err := s.Get(ctx, k)
	require.NoError(t, err)
	require.Equal(t, st.Rev+1, got.Rev)
}

func TestCorruptStateIsReported(t *testing.T) {
	rc, ns := redistest.Client(t)
	shard := keys.New(ns).Shard(0)
	ctx := lease.WithFence(context.Background(), lease.Fence{Shard: shard, Token: 1})
	s := fsm.New(rc, time.Minute)
	require.NoError(t, rc.HSet(context.Background(), shard.FSM(k.ChatID, k.UserID), "rev", "12", "state", "{not json").Err())
	_, err := s.Get(ctx, k)
	require.ErrorIs(t, err, fsm.ErrCorrupt)
	require.NoError(t, rc.HSet(context.Background(), shard.FSM(k.ChatID, k.UserID), "rev", "x").Err())
	_, err = s.Get(ctx, k)
	require.ErrorIs(t, err, fsm.ErrCorrupt)
}

func TestWithCopies(t *testing.T) {
	a := fsm.State{Screen: "A", Rev: 3, Values: map[string]string{"x": "1", "y": "2"}}
	b := a.With("B", "x", "9", "y", "")
	require.Equal(t, map[string]string{"x": "1", "y": "2"}, a.Values, "the original is untouched")
	require.Equal(t, map[string]string{"x": "9"}, b.Values)
	require.Equal(t, "B", string(b.Screen))
}
