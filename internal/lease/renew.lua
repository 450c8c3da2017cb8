-- KEYS[1] -> the shard's lease hash ({ns:N}:lease, fields holder, owner and token)
-- ARGV[1] -> the owner: the holder's per-process identity (INSTANCE_ID#nonce)
-- ARGV[2] -> the holder's fencing token (decimal)
-- ARGV[3] -> lease TTL in milliseconds
--
-- Extends the lease only while it is still this process's under this
-- token; a twin with the same INSTANCE_ID cannot extend it. A missing lease
-- (expired, or Redis lost its data) is never re-created here, because a
-- newer holder may have come and gone in between.
-- Returns {1} when renewed, {0, holder, token} ('' for a missing lease) when not.
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'owner')
if cur[3] == ARGV[1] and cur[2] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1}
end
return {0, cur[1] or '', cur[2] or ''}
