-- Records the deployment's mode and bot, or reports the recorded ones.
-- KEYS[1] -> the deployment hash (keys.Space.Deployment): {mode, bot_id, recorded_at}
-- ARGV[1] -> this instance's mode: "real" or "sandbox"
-- ARGV[2] -> this instance's bot id ("" when it has none: sandbox mode)
-- ARGV[3] -> "1" when the namespace was used before (an older version ran on it), else "0"
-- ARGV[4] -> now, Unix ms (recorded_at)
-- Returns {mode, bot_id, outcome}: outcome "recorded" (this call wrote the
-- mode), "existing" (a mode was recorded before; bot_id is filled in when it
-- was empty and ARGV[2] is not) or "unrecorded" (nothing written: a sandbox
-- instance never records the mode of a namespace an older version used).
local mode = redis.call('HGET', KEYS[1], 'mode')
if not mode then
  if ARGV[1] == 'sandbox' and ARGV[3] == '1' then
    return {'', '', 'unrecorded'}
  end
  redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'recorded_at', ARGV[4])
  if ARGV[2] ~= '' then
    redis.call('HSET', KEYS[1], 'bot_id', ARGV[2])
  end
  return {ARGV[1], ARGV[2], 'recorded'}
end
local bot = redis.call('HGET', KEYS[1], 'bot_id') or ''
if mode == ARGV[1] and bot == '' and ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'bot_id', ARGV[2])
  bot = ARGV[2]
end
return {mode, bot, 'existing'}
