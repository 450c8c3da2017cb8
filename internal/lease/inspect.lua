-- KEYS[1] -> the shard's lease hash ({ns:N}:lease, fields holder and token)
-- KEYS[2] -> the shard's fence counter ({ns:N}:fence)
--
-- Reads the lease in one step (read only).
-- Returns {holder or '', token or '', pttl, fence counter or ''}.
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token')
return {cur[1] or '', cur[2] or '', redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
