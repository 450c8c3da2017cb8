-- A fenced script (lease.NewFencedScript): KEYS[1] is the poll lease's hash and ARGV[1] the poller's
-- token, checked by the prelude.
-- KEYS[2] -> the poll offset ({ns:poll:0}:offset)
-- ARGV[2] -> the offset past the updates just appended
--
-- Raises the stored offset to ARGV[2] (it never goes back); returns the stored offset.
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > cur then
  redis.call('SET', KEYS[2], ARGV[2])
  return ARGV[2]
end
return redis.call('GET', KEYS[2])
