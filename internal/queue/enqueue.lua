-- KEYS[1]    -> the shard's stream ({ns:N}:stream)
-- KEYS[2]    -> the shard's poll fence ({ns:N}:poll-fence): the highest poll-lease token that claimed the stream
-- KEYS[2+i]  -> the dedupe marker of entry i's update_id ({ns:N}:seen:<update_id>), i = 1..n; its value is the
--               cid of the update's first ingest
-- ARGV[1]    -> dedupe window in milliseconds (0: no dedupe)
-- ARGV[2]    -> max backlog: entries the stream may hold (0: no limit)
-- ARGV[3]    -> the poll-lease token of a poller's append (INGEST=poll); 0 for the webhook (no fence check)
-- ARGV[4]    -> '1' when the caller WAITs for replicas after this call (REDIS_WAIT_REPLICAS): a duplicate then
--               writes too (it refreshes the marker's expiry, unchanged), so that WAIT covers the master's stream
--               up to here, the original append included; Redis 7.2+ records a connection's offset only after a
--               write of its own. '0' otherwise
-- ARGV[5]    -> the entry format (envelope.go): '1' (FormatFields) or '2' (FormatPacked)
-- ARGV[6..]  -> the n entries one after the other. Format 1, 7 values each: cid (also kept in its marker),
--               update_id, type, chat, user, ingest, payload; the entry's fields are those names with these
--               values, in this order. Format 2, 5 values each: cid (kept in the marker only), then the values of
--               the entry's fields uid, type, h and payload (only the values travel, so that Lua takes few strings)
--
-- One call appends a batch of one shard's entries (group commit: Lua is entered once for them all); each entry
-- gets exactly what a call of its own would: dedupe, backlog check, append, marker, in the order given (an entry
-- repeating an earlier entry's update_id is that entry's duplicate). Below the backlog limit the dedupe check and
-- the marker are one SET NX before the append; an append that fails deletes that marker and fails the call (the
-- entries before it stay appended: the caller answers every entry of a failed call as unconfirmed, and their
-- resends are duplicates).
-- Returns, per entry, {status, depth, id, original} one after the other (4n values): status 0 appended (id is
-- the new entry), 1 duplicate (a marker exists; original is its value: the first ingest's cid, or '1' for a
-- marker written before markers kept the cid), 2 backlog full (nothing written for it).
-- A poller's call whose token is below the fence is refused with an error FENCED and writes nothing; a larger
-- token raises the fence.
local token = tonumber(ARGV[3])
if token > 0 then
  local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
  if fence > token then
    return redis.error_reply('FENCED current=' .. redis.call('GET', KEYS[2]) .. ' caller=' .. ARGV[3])
  end
  if fence < token then
    redis.call('SET', KEYS[2], ARGV[3])
  end
end
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local touch = ARGV[4] == '1'
local packed = ARGV[5] == '2'
local stride = packed and 5 or 7
local depth = redis.call('XLEN', KEYS[1])
local out = {}
local a = 6
for k = 3, #KEYS do
  local cid = ARGV[a]
  local original = false
  -- marked: this call wrote the marker (SET NX: the dedupe check and the
  -- marker in one command), before the append; below the backlog only, so
  -- that a full shard remembers nothing
  local marked = false
  if window > 0 then
    if max == 0 or depth < max then
      marked = redis.call('SET', KEYS[k], cid, 'NX', 'PX', window) ~= false
    end
    if not marked then
      original = redis.call('GET', KEYS[k])
    end
  end
  if original then
    if touch then
      local left = redis.call('PTTL', KEYS[k])
      if left > 0 then
        redis.call('PEXPIRE', KEYS[k], left)
      else
        redis.call('SET', KEYS[k], original, 'KEEPTTL')
      end
    end
    out[#out + 1] = 1
    out[#out + 1] = depth
    out[#out + 1] = ''
    out[#out + 1] = original
  elseif max > 0 and depth >= max then
    out[#out + 1] = 2
    out[#out + 1] = depth
    out[#out + 1] = ''
    out[#out + 1] = ''
  else
    local id
    if packed then
      id = redis.pcall('XADD', KEYS[1], '*', 'uid', ARGV[a + 1], 'type', ARGV[a + 2], 'h', ARGV[a + 3],
        'payload', ARGV[a + 4])
    else
      id = redis.pcall('XADD', KEYS[1], '*', 'cid', cid, 'uid', ARGV[a + 1], 'type', ARGV[a + 2],
        'chat', ARGV[a + 3], 'user', ARGV[a + 4], 'ingest', ARGV[a + 5], 'payload', ARGV[a + 6])
    end
    if type(id) == 'table' then
      -- the append failed: no marker may stay without its entry (the update
      -- would be taken for a duplicate when Telegram resends it)
      if marked then
        redis.call('DEL', KEYS[k])
      end
      return id
    end
    if window > 0 and not marked then
      redis.call('SET', KEYS[k], cid, 'PX', window)
    end
    depth = depth + 1
    out[#out + 1] = 0
    out[#out + 1] = depth
    out[#out + 1] = id
    out[#out + 1] = ''
  end
  a = a + stride
end
return out
