package queue

import (
	"encoding/binary"
	"hash/fnv"
)

// ShardOf returns the shard of an update: by its chat, else its user, else
// its update_id (CONTRACT §4). The hash is FNV-1a over the key's eight
// big-endian bytes, so the result is stable across processes, versions and
// platforms for a given number of shards; a private chat and its user (the
// same id) land on the same shard. typ is not used: the shard depends on
// identities only, so every update of a chat lands on one shard whatever its
// type.
func (q *Queue) ShardOf(typ string, chatID, userID, updateID int64) int {
	_ = typ
	return shardOf(q.opts.Shards, chatID, userID, updateID)
}

func shardOf(shards int, chatID, userID, updateID int64) int {
	if shards <= 1 {
		return 0
	}
	key := updateID
	switch {
	case chatID != 0:
		key = chatID
	case userID != 0:
		key = userID
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(key))
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	return int(h.Sum64() % uint64(shards))
}
