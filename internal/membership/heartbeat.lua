-- KEYS[1] -> the instance's heartbeat hash ({ns}:instance:<id>, fields nonce, beat, info)
-- ARGV[1] -> this process's nonce
-- ARGV[2] -> this heartbeat's beat value (nonce:sequence)
-- ARGV[3] -> the instance info (JSON)
-- ARGV[4] -> heartbeat TTL in milliseconds
--
-- Refreshes the heartbeat; re-creates it when it expired or Redis lost it,
-- but never overwrites another process's claim on the same id.
-- Returns 1 when written, 0 when another process holds the id.
local nonce = redis.call('HGET', KEYS[1], 'nonce')
if nonce and nonce ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'nonce', ARGV[1], 'beat', ARGV[2], 'info', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
