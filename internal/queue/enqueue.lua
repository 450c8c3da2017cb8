-- KEYS[1] -> the shard's stream ({ns:N}:stream)
-- KEYS[2] -> the dedupe marker of this update_id ({ns:N}:seen:<update_id>); its value is the cid of the
--            update's first ingest
-- KEYS[3] -> the shard's poll fence ({ns:N}:poll-fence): the highest poll-lease token that claimed the stream
-- ARGV[1] -> dedupe window in milliseconds (0: no dedupe)
-- ARGV[2] -> max backlog: entries the stream may hold (0: no limit)
-- ARGV[3] -> the update's cid, kept in the marker
-- ARGV[4] -> the poll-lease token of a poller's append (INGEST=poll); 0 for the webhook (no fence check)
-- ARGV[5] -> '1' when the caller WAITs for replicas after this call (REDIS_WAIT_REPLICAS): a duplicate then
--            writes too (it refreshes the marker's expiry, unchanged), so that WAIT covers the master's stream up
--            to here, the original append included; Redis 7.2+ records a connection's offset only after a
--            write of its own. '0' otherwise
-- ARGV[6..] -> the entry's field/value pairs
--
-- Returns {status, depth, id, original}: status 0 appended (id is the new entry),
-- 1 duplicate (a marker exists; original is its value: the first ingest's cid, or '1' for a marker
-- written before markers kept the cid), 2 backlog full (nothing written).
-- A poller's append whose token is below the fence is refused with an error FENCED and writes nothing;
-- a larger token raises the fence.
local token = tonumber(ARGV[4])
if token > 0 then
  local fence = tonumber(redis.call('GET', KEYS[3]) or '0')
  if fence > token then
    return redis.error_reply('FENCED current=' .. redis.call('GET', KEYS[3]) .. ' caller=' .. ARGV[4])
  end
  if fence < token then
    redis.call('SET', KEYS[3], ARGV[4])
  end
end
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
if window > 0 then
  local original = redis.call('GET', KEYS[2])
  if original then
    if ARGV[5] == '1' then
      local left = redis.call('PTTL', KEYS[2])
      if left > 0 then
        redis.call('PEXPIRE', KEYS[2], left)
      else
        redis.call('SET', KEYS[2], original, 'KEEPTTL')
      end
    end
    return {1, redis.call('XLEN', KEYS[1]), '', original}
  end
end
local depth = redis.call('XLEN', KEYS[1])
if max > 0 and depth >= max then
  return {2, depth, '', ''}
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 6))
if window > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', window)
end
return {0, depth + 1, id, ''}
