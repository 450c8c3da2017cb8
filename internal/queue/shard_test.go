package queue

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

func TestShardOfKeysByChatThenUserThenUpdate(t *testing.T) {
	q := New(nil, keys.New("x"), Options{Shards: 8})
	require.Equal(t, q.ShardOf("message", 42, 7, 1), q.ShardOf("callback_query", 42, 99, 2), "same chat, same shard")
	require.Equal(t, q.ShardOf("inline_query", 0, 42, 1), q.ShardOf("message", 42, 1, 5), "a user and their private chat share a shard")
	require.Equal(t, q.ShardOf("poll", 0, 0, 42), q.ShardOf("message", 42, 0, 9))
	for i := int64(-50); i < 50; i++ {
		s := q.ShardOf("message", i*1_000_003, 0, 1)
		require.True(t, s >= 0 && s < 8)
	}
	one := New(nil, keys.New("x"), Options{Shards: 1})
	require.Zero(t, one.ShardOf("message", 42, 1, 1))
}

// The hash must never change between versions: a changed mapping moves
// chats to other shards while their old entries are still queued.
func TestShardOfIsStable(t *testing.T) {
	got := []int{shardOf(16, 100200300, 0, 0), shardOf(16, -1001234567890, 0, 0), shardOf(16, 0, 0, 700000013), shardOf(3, 1, 0, 0)}
	require.Equal(t, []int{11, 12, 7, 0}, got)
}

func TestShardOfSpreads(t *testing.T) {
	counts := make([]int, 4)
	for chat := int64(1); chat <= 4000; chat++ {
		counts[shardOf(4, chat, 0, 0)]++
	}
	for _, n := range counts {
		require.InDelta(t, 1000, n, 150)
	}
}
