-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3] -> consumer name: the caller's own
-- ARGV[4] -> min-idle in milliseconds (0: any)
-- ARGV[5] -> count: most entries to take
-- ARGV[6..] -> ids the caller holds already (skipped)
--
-- Takes back this consumer's own pending entries that it does not hold:
-- entries a read moved to it whose reply never arrived (a timeout, a reset
-- connection). Oldest first, idle at least min-idle. The delivery count is
-- kept (XCLAIM RETRYCOUNT): the lost reply delivered nothing. Entries
-- deleted from the stream are dropped from the pending list by XCLAIM and
-- not returned. Returns {{id, deliveries, fields}...}.
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
local want = tonumber(ARGV[5])
local pend = redis.pcall('XPENDING', KEYS[2], ARGV[2], 'IDLE', ARGV[4], '-', '+', want + #ARGV - 5, ARGV[3])
if type(pend) == 'table' and pend.err then
  if string.sub(pend.err, 1, 7) == 'NOGROUP' then
    return {}
  end
  return pend
end
local out = {}
for _, p in ipairs(pend) do
  if #out >= want then break end
  if not skip[p[1]] then
    local c = redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, p[1], 'RETRYCOUNT', p[4])
    if c[1] and c[1][2] then
      out[#out + 1] = {p[1], p[4], c[1][2]}
    end
  end
end
return out
