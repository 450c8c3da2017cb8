-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3] -> entry id
--
-- Acknowledges the entry and deletes it from the stream, so the stream
-- holds the backlog only. Returns the number acknowledged (0 or 1).
local n = redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
return n
