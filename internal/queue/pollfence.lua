-- KEYS[1] -> the shard's poll fence ({ns:N}:poll-fence): the highest poll-lease token that claimed the stream
-- ARGV[1] -> the new poller's poll-lease token
--
-- Raises the fence to ARGV[1], so that from now on appends of pollers with lower tokens are refused.
-- Returns the fence; an error FENCED (nothing written) when it already holds a larger token.
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then
  return redis.error_reply('FENCED current=' .. redis.call('GET', KEYS[1]) .. ' caller=' .. ARGV[1])
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
