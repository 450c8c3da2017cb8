-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3..] -> entry ids (one or more)
--
-- Acknowledges the entries and deletes them from the stream, so the stream
-- holds the backlog only: one XACK and one XDEL for them all. Returns the
-- number acknowledged.
local n = redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
redis.call('XDEL', KEYS[2], unpack(ARGV, 3))
return n
