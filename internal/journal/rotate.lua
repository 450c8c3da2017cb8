-- Starts a new current segment for a tier, unless another instance did.
-- KEYS[1] -> the journal's meta hash: "cur:<tier>" -> id of the current
--            segment, "seg:<tier>:<id>" -> "<bytes> <measured at ms>"
-- ARGV[1] -> the tier
-- ARGV[2] -> the current id the caller knows ("" for none)
-- ARGV[3] -> the new segment's id: now (Unix ms), at least the known
--            current id + 1
-- Returns the current id after the call: ARGV[3] when the caller made the
-- new segment (it then makes the segment's key), else the one another
-- instance made first. With no current segment (a new journal, or a meta
-- hash Redis evicted) one is always made.
local curField = 'cur:' .. ARGV[1]
local cur = redis.call('HGET', KEYS[1], curField)
if cur and (cur ~= ARGV[2] or tonumber(cur) >= tonumber(ARGV[3])) then
  return cur
end
redis.call('HSET', KEYS[1], curField, ARGV[3], 'seg:' .. ARGV[1] .. ':' .. ARGV[3], '0 0')
return ARGV[3]
