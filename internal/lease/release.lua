-- KEYS[1] -> the shard's lease hash ({ns:N}:lease, fields holder, owner and token)
-- ARGV[1] -> the owner: the holder's per-process identity (INSTANCE_ID#nonce)
-- ARGV[2] -> the holder's fencing token (decimal)
-- ARGV[3] -> the pub/sub channel announcing released leases ({ns}:lease-released)
-- ARGV[4] -> the shard number, the message published
--
-- Deletes the lease only while it is this process's under this token, then
-- announces the release so that PASSIVE instances try at once.
-- Returns 1 when released, 0 when the lease was no longer this process's.
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
