-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the FSM hash of one user in one chat ({ns:N}:fsm:<chat>:<user>), fields rev and state
-- KEYS[3] -> the shard's jobs stream ({ns:N}:jobs), written only when job fields are given
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> the revision the new state was computed from, or -1 for any
-- ARGV[3] -> the new state, JSON
-- ARGV[4] -> the state's TTL in milliseconds
-- ARGV[5] -> the first revision of a user with no state (the time in ms)
-- ARGV[6] -> the jobs stream's approximate maximum length
-- ARGV[7..] -> the job's fields as name, value pairs (none: no job)
-- Returns {1, new revision, job stream id or ''} or {0, current revision, current state JSON or ''}.
local cur = tonumber(redis.call('HGET', KEYS[2], 'rev') or '0')
if ARGV[2] ~= '-1' and tonumber(ARGV[2]) ~= cur then
  return {0, cur, redis.call('HGET', KEYS[2], 'state') or ''}
end
local rev = cur + 1
if cur == 0 then
  rev = math.max(1, tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[2], 'rev', rev, 'state', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local id = ''
if #ARGV > 7 then
  local args = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*'}
  for i = 7, #ARGV do
    args[#args + 1] = ARGV[i]
  end
  id = redis.call(unpack(args))
end
return {1, rev, id}
