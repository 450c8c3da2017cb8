-- Adds cids to users' lists of last cids in one users segment.
-- KEYS[1] -> the segment: a hash of user id (8 bytes) -> entries of 8
--            bytes (cid, 4 bytes; then Unix seconds, 4 bytes, big endian),
--            oldest first; and "n" -> the bytes written to it
-- ARGV[1] -> how long the segment lives after this write (ms)
-- ARGV[2] -> the most entries a user keeps
-- ARGV[3], ARGV[4], ... -> user, entry (pairs); an entry replaces one of
--            the same cid
-- Returns the segment's "n" after the write, or -1 when the segment does
-- not exist (nothing is written).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local cap = tonumber(ARGV[2]) * 8
local added = 0
for i = 3, #ARGV, 2 do
  local user, entry = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], user)
  local kept = {}
  if old then
    local cid = string.sub(entry, 1, 4)
    for j = 1, #old - 7, 8 do
      if string.sub(old, j, j + 3) ~= cid then
        kept[#kept + 1] = string.sub(old, j, j + 7)
      end
    end
  else
    added = added + 56
  end
  kept[#kept + 1] = entry
  local v = table.concat(kept)
  if #v > cap then
    v = string.sub(v, #v - cap + 1)
  end
  redis.call('HSET', KEYS[1], user, v)
  added = added + #v - (old and #old or 0)
end
local n = redis.call('HINCRBY', KEYS[1], 'n', added)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
