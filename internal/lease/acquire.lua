-- KEYS[1] -> the shard's lease hash ({ns:N}:lease, fields holder, owner and token)
-- KEYS[2] -> the shard's fence counter ({ns:N}:fence, highest token handed out)
-- ARGV[1] -> the contender's holder name (INSTANCE_ID, shown by status and events)
-- ARGV[2] -> lease TTL in milliseconds
-- ARGV[3] -> lowest token the caller accepts (highest token it has seen + 1)
-- ARGV[4] -> the contender's owner: its per-process identity (INSTANCE_ID#nonce)
--
-- Wins the lease when it is free or already owned by this very process (a
-- lost reply), with a fresh token:
--   token = max(fence counter + 1, current lease token + 1, Redis TIME in µs, ARGV[3])
-- A live lease of another process is never taken, even when it carries the
-- same holder name (a twin under the same INSTANCE_ID, or a restart of it):
-- that one waits for the lease to be released or to expire. A lease written
-- without an owner (an older version) counts as another process's.
-- The TIME term keeps tokens increasing after Redis lost its data; the
-- ARGV[3] term covers a server clock that went backwards.
-- Returns {1, token} when won, {0, holder, token, pttl} when held by another.
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'owner')
if cur[1] and cur[3] ~= ARGV[4] then
  return {0, cur[1], cur[2] or '0', redis.call('PTTL', KEYS[1])}
end
local token = (tonumber(redis.call('GET', KEYS[2]) or '0') or 0) + 1
local held = (tonumber(cur[2] or '0') or 0) + 1
if held > token then token = held end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) -- exact in a Lua number until 2255
if now > token then token = now end
local floor = tonumber(ARGV[3]) or 0
if floor > token then token = floor end
local s = string.format('%d', token)
redis.call('SET', KEYS[2], s)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', s, 'owner', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, s}
