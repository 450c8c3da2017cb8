-- KEYS[1] -> the instance's heartbeat hash ({ns}:instance:<id>, fields nonce, beat, info)
-- ARGV[1] -> this process's nonce (random, one per Registry)
-- ARGV[2] -> this heartbeat's beat value (nonce:sequence)
-- ARGV[3] -> the instance info (JSON)
-- ARGV[4] -> heartbeat TTL in milliseconds
-- ARGV[5] -> a stale beat this process may replace ('' = only a free or own key)
--
-- Claims the instance id unless another process's heartbeat holds it and
-- has moved since ARGV[5] was read.
-- Returns {1, ''} when claimed, {0, beat} with the holder's beat when not.
local cur = redis.call('HMGET', KEYS[1], 'nonce', 'beat')
if cur[1] and cur[1] ~= ARGV[1] and cur[2] ~= ARGV[5] then
  return {0, cur[2] or ''}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'nonce', ARGV[1], 'beat', ARGV[2], 'info', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, ''}
