-- KEYS[1] -> the live-instance set ({ns}:members): a sorted set, member =
--            instance id, score = when the entry expires (Redis time, ms)
-- ARGV[1] -> the instance id
-- ARGV[2] -> the entry's lifetime in milliseconds; 0 removes the entry
--
-- Drops the expired entries, adds or refreshes (or removes) this
-- instance's, and returns the ids of the live instances, sorted. Time is
-- Redis's, so the instances' clocks do not matter.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local life = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if life > 0 then
  redis.call('ZADD', KEYS[1], now + life, ARGV[1])
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl < life then
    redis.call('PEXPIRE', KEYS[1], life)
  end
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
