-- KEYS[1] -> the probe key of shard 0 ({ns:0}:probe), deleted before the script returns
--
-- The start-up check of the Redis user's permissions: it runs a script and
-- writes and deletes a stream under the shard's hash tag, as the ingest and
-- the workers will. An ACL that forbids scripts, streams or the keys of the
-- namespace makes it fail with NOPERM. Returns 1.
redis.call('XADD', KEYS[1], '*', 'probe', '1')
redis.call('DEL', KEYS[1])
return 1
