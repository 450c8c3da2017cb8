-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the shard's stream
-- KEYS[3] -> the shard's dead-letter stream
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> consumer group
-- ARGV[3] -> entry id
-- ARGV[4..] -> field/value pairs added to the dead letter (reason, error...)
--
-- Copies the entry with the extra fields to the dead-letter stream, then
-- acknowledges and deletes it, in one step. Returns the dead letter's id,
-- or '' when the entry was no longer in the stream (only acknowledged).
local e = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[3])
local id = ''
if e[1] then
  local fields = e[1][2]
  fields[#fields + 1] = 'stream_id'
  fields[#fields + 1] = ARGV[3]
  for i = 4, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  id = redis.call('XADD', KEYS[3], '*', unpack(fields))
end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
return id
