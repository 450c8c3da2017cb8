-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3] -> consumer name
-- ARGV[4] -> count: most entries to take
--
-- Takes up to count never-delivered entries into the consumer's pending
-- list (XREADGROUP ... >, never blocking), creating the group at 0 when it
-- is missing. Returns {last_delivered_id, entries}: entries as XREADGROUP
-- gives them; last_delivered_id is the group's, for a blocking XREAD wait.
local function take()
  return redis.pcall('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], '>')
end
local res = take()
if type(res) == 'table' and res.err then
  if string.sub(res.err, 1, 7) ~= 'NOGROUP' then
    return res
  end
  redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[2], '0', 'MKSTREAM')
  res = take()
  if type(res) == 'table' and res.err then
    return res
  end
end
if res and res[1] and #res[1][2] > 0 then
  local entries = res[1][2]
  return {entries[#entries][1], entries}
end
local last = '0-0'
local groups = redis.call('XINFO', 'GROUPS', KEYS[2])
for _, g in ipairs(groups) do
  local name, ldi
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then ldi = g[i + 1] end
  end
  if name == ARGV[2] then last = ldi end
end
return {last, {}}
