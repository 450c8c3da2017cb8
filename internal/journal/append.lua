-- Appends encoded blocks to the chains of one journal segment.
-- KEYS[1] -> the segment: a hash of cid (4 bytes) -> blocks, and "n" ->
--            the bytes written to it (an estimate of its size)
-- ARGV[1] -> how long the segment lives after this write (ms)
-- ARGV[2], ARGV[3], ... -> cid, blocks (pairs)
-- Returns the segment's "n" after the write, or -1 when the segment does
-- not exist (evicted or expired: nothing is written, the caller moves on to
-- the current segment; a segment is made by the instance that starts it).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local added = 0
for i = 2, #ARGV, 2 do
  local cid, data = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], cid)
  if old then
    redis.call('HSET', KEYS[1], cid, old .. data)
    added = added + #data
  else
    redis.call('HSET', KEYS[1], cid, data)
    added = added + #data + 48
  end
end
local n = redis.call('HINCRBY', KEYS[1], 'n', added)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
