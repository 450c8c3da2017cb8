-- KEYS[1] -> the shard's stream ({ns:N}:stream)
-- KEYS[2] -> the dedupe marker of this update_id ({ns:N}:seen:<update_id>); its value is the cid of the
--            update's first ingest
-- KEYS[3] -> the shard's poll fence ({ns:N}:poll-fence): the highest poll-lease token that claimed the stream
-- ARGV[1] -> dedupe window in milliseconds (0: no dedupe)
-- ARGV[2] -> max backlog: entries the stream may hold (0: no limit)
-- ARGV[3] -> the update's cid, kept in the marker
-- ARGV[4] -> the poll-lease token of a poller's append (INGEST=poll); 0 for the webhook (no fence check)
-- ARGV[5..] -> the entry's field/value pairs
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
    return {1, redis.call('XLEN', KEYS[1]), '', original}
  end
end
local depth = redis.call('XLEN', KEYS[1])
if max > 0 and depth >= max then
  return {2, depth, '', ''}
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
if window > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', window)
end
return {0, depth + 1, id, ''}
