// Package queue owns the shard streams: which shard an update goes to, the
// ingest step (dedupe, backlog limit, append) as one Lua call, the fenced
// reads, claims, acknowledgements and dead-lettering the worker uses, the
// dead-letter operations of the ops CLI, and per-shard statistics.
//
// Layout: each shard is one Redis stream read with the consumer group
// keys.Group; the stream, its dedupe markers and its dead-letter stream
// share the shard's hash tag, so every script touches one slot and runs
// unchanged on Redis Cluster (see package keys).
//
// Guarantees:
//   - Enqueue is one script: an update_id whose marker exists is reported
//     as a duplicate and not appended; a shard holding MaxBacklog entries
//     refuses (ErrBacklogFull) and writes nothing; otherwise the entry is
//     appended and the marker set, atomically. When Enqueue returns without
//     error the entry is in Redis (durable as far as the server's
//     persistence is).
//   - Batcher (group commit) keeps these guarantees per call: the
//     concurrent calls of a shard go in one call of the same script, which
//     does for each entry what it does for one, and each call is answered
//     with its own entry's reply (a failure of the round trip itself goes
//     to every call of it: unconfirmed).
//   - Acker (group commit of one term's acks) keeps Ack's guarantees per
//     call: concurrent acks share one fenced XACK and XDEL, and each caller
//     is answered once the reply is back.
//   - Entries leave the stream only through Ack or DeadLetter, both fenced
//     scripts that acknowledge and delete in one step: the stream's length
//     is the backlog (delivered or not), never the history, and nothing
//     unacknowledged is ever trimmed.
//   - Every read, claim, ack and dead-letter is a fenced script (package
//     lease): a caller whose fencing token is no longer the shard's current
//     one gets an error matching lease.ErrFenced and changes nothing; a stale
//     leader cannot take entries from the stream nor acknowledge them.
//   - A blocking wait (WaitNew) never takes an entry: it only wakes the
//     reader, so a reader that stops while blocked leaves nothing behind.
//
// Not guaranteed:
//   - Exactly-once: an entry is delivered again when its consumer dies or
//     loses its lease before the ack (see docs/queue.md for when).
//   - Dedupe outlives its window: a repeat of an update_id after
//     DedupeWindow, or after its marker was lost with Redis data, is
//     appended again.
//   - The dead-letter stream is not trimmed: dead letters stay until they are
//     replayed or dropped.
package queue
