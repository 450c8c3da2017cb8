-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3..] -> consumer names to remove
--
-- Removes the named consumers from the group, each only while it has no
-- pending entry (XGROUP DELCONSUMER drops a consumer's pending entries,
-- which would then never be delivered again). Returns the number removed.
local info = redis.pcall('XINFO', 'CONSUMERS', KEYS[2], ARGV[2])
if type(info) == 'table' and info.err then
  if string.sub(info.err, 1, 7) == 'NOGROUP' then
    return 0
  end
  return info
end
local pending = {}
for _, c in ipairs(info) do
  local name, n
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] end
    if c[i] == 'pending' then n = c[i + 1] end
  end
  if name then pending[name] = n end
end
local removed = 0
for i = 3, #ARGV do
  if pending[ARGV[i]] == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[2], ARGV[2], ARGV[i])
    removed = removed + 1
  end
end
return removed
