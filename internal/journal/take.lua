-- Takes chains out of one journal segment (to move them to another tier).
-- KEYS[1] -> the segment (hash: cid -> blocks, "n" -> bytes written)
-- ARGV[1], ARGV[2], ... -> cids (4 bytes each)
-- Returns {cid, blocks, cid, blocks, ...} for the cids the segment held;
-- they are removed from it.
local out = {}
local removed = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    redis.call('HDEL', KEYS[1], ARGV[i])
    out[#out + 1] = ARGV[i]
    out[#out + 1] = v
    removed = removed + #v + 48
  end
end
if removed > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -removed)
end
return out
