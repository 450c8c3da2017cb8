-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3] -> consumer name that takes the entries
-- ARGV[4] -> start of the id range ('-', an id, or '(' id for after id)
-- ARGV[5] -> end of the id range ('+' or an id)
-- ARGV[6] -> count: most pending entries to look at
--
-- Moves pending entries of any consumer in the range, oldest first, to the
-- caller (XCLAIM with min-idle 0, which counts one more delivery). Entries
-- deleted from the stream are dropped from the pending list by XCLAIM and
-- not returned. Returns {rows_seen, last_id_seen, {{id, deliveries, fields}...}}
-- with deliveries counting this one.
local pend = redis.pcall('XPENDING', KEYS[2], ARGV[2], ARGV[4], ARGV[5], ARGV[6])
if type(pend) == 'table' and pend.err then
  if string.sub(pend.err, 1, 7) == 'NOGROUP' then
    return {0, '', {}}
  end
  return pend
end
local out = {}
local last = ''
for _, p in ipairs(pend) do
  last = p[1]
  local c = redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, p[1])
  if c[1] and c[1][2] then
    out[#out + 1] = {p[1], p[4] + 1, c[1][2]}
  end
end
return {#pend, last, out}
