-- KEYS[1] -> the shard's lease hash (checked by the fence prelude)
-- KEYS[2] -> the FSM hash of one user in one chat ({ns:N}:fsm:<chat>:<user>), fields rev and state
-- KEYS[3] -> the shard's jobs stream ({ns:N}:jobs), written only when job fields are given
-- ARGV[1] -> the caller's fencing token (checked by the fence prelude)
-- ARGV[2] -> the revision the new state was computed from, or -1 for any
-- ARGV[3] -> the new state, JSON
-- ARGV[4] -> the state's TTL in milliseconds
-- ARGV[5] -> the first revision of a user with no state (the time in ms)
-- ARGV[6] -> the jobs stream's cap: entries it may hold (0: no cap)
-- ARGV[7..] -> the job's fields as name, value pairs (none: no job)
-- Returns {1, new revision, job stream id or ''}, {0, current revision, current state JSON or ''}, or
-- {2, jobs stream length, ''} when the job is refused: the stream is at its cap and none of its entries may
-- be trimmed (nothing is written then, the state neither).
--
-- Trimming never drops an unread job: at the cap, only the entries that every consumer group of the stream
-- has read and acknowledged are trimmed (those below the smallest, over the groups, of the group's oldest
-- pending entry, else its last delivered id). A stream without groups is never trimmed.

-- parse turns a stream id 'ms-seq' into two numbers.
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end

-- safeMinID returns the id below which every group has read and acknowledged every entry, or nil.
local function safeMinID(stream)
  local groups = redis.call('XINFO', 'GROUPS', stream)
  local min = nil
  for _, g in ipairs(groups) do
    local f = {}
    for i = 1, #g, 2 do
      f[g[i]] = g[i + 1]
    end
    local bound = f['last-delivered-id']
    if tonumber(f['pending']) > 0 then
      local p = redis.call('XPENDING', stream, f['name'])
      bound = p[2]
    end
    if min == nil or less(bound, min) then
      min = bound
    end
  end
  return min
end

local cur = tonumber(redis.call('HGET', KEYS[2], 'rev') or '0')
if ARGV[2] ~= '-1' and tonumber(ARGV[2]) ~= cur then
  return {0, cur, redis.call('HGET', KEYS[2], 'state') or ''}
end
local job = #ARGV > 7
local cap = tonumber(ARGV[6])
if job and cap > 0 then
  local len = redis.call('XLEN', KEYS[3])
  if len >= cap then
    local minid = nil
    if redis.call('EXISTS', KEYS[3]) == 1 then
      minid = safeMinID(KEYS[3])
    end
    if minid ~= nil then
      redis.call('XTRIM', KEYS[3], 'MINID', minid)
      len = redis.call('XLEN', KEYS[3])
    end
    if len >= cap then
      return {2, len, ''}
    end
  end
end
local rev = cur + 1
if cur == 0 then
  rev = math.max(1, tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[2], 'rev', rev, 'state', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local id = ''
if job then
  local args = {'XADD', KEYS[3], '*'}
  for i = 7, #ARGV do
    args[#args + 1] = ARGV[i]
  end
  id = redis.call(unpack(args))
end
return {1, rev, id}
