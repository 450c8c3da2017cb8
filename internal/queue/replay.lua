-- KEYS[1] -> the shard's dead-letter stream
-- KEYS[2] -> the shard's stream
-- ARGV[1..] -> ids of dead letters to replay
--
-- Appends each dead letter's envelope (not its failure fields) to the
-- shard's stream as a new entry in the dead letter's format (envelope.go:
-- the fields cid, uid, type, chat, user, ingest, payload, or uid, type, h,
-- payload), with a replay_of field naming the dead letter, and deletes the
-- dead letter. Ignores the backlog limit and the
-- dedupe marker: replay is an operator's decision. Returns a flat list
-- {dead_letter_id, new_stream_id, cid, update_id, ...} of the ids that
-- existed.
local keep = {cid = true, uid = true, type = true, chat = true, user = true, ingest = true, payload = true, h = true}
local out = {}
for i = 1, #ARGV do
  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if e[1] then
    local src = e[1][2]
    local fields = {}
    local cid, uid = '', ''
    for j = 1, #src, 2 do
      if src[j] == 'cid' then cid = src[j + 1] end
      if src[j] == 'uid' then uid = src[j + 1] end
      if src[j] == 'h' then cid = string.match(src[j + 1], '^[^ ]*') end
      if keep[src[j]] then
        fields[#fields + 1] = src[j]
        fields[#fields + 1] = src[j + 1]
      end
    end
    fields[#fields + 1] = 'replay_of'
    fields[#fields + 1] = ARGV[i]
    local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
    redis.call('XDEL', KEYS[1], ARGV[i])
    out[#out + 1] = ARGV[i]
    out[#out + 1] = id
    out[#out + 1] = cid
    out[#out + 1] = uid
  end
end
return out
