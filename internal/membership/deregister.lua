-- KEYS[1] -> the instance's heartbeat hash ({ns}:instance:<id>, fields nonce, beat, info)
-- ARGV[1] -> this process's nonce
--
-- Removes the heartbeat only while it is this process's.
-- Returns 1 when removed, 0 otherwise.
if redis.call('HGET', KEYS[1], 'nonce') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
