// Package poll is the long-polling ingest (INGEST=poll, CONTRACT §8): for
// bots without a public HTTPS endpoint, one instance at a time calls
// Telegram's getUpdates and puts each batch on the shard streams through
// the webhook's own path (ingest.Handler.Ingest: same decode, dedupe,
// backlog and events, QUEUE_ENQUEUE with source=poll).
//
// The one poller is the holder of the poll lease, a lease.Manager lease
// like a shard's (shard 0 of keys.Space.Poll(), its own fencing token).
// Every instance contends for it; a crashed holder is replaced once its
// lease expires (within LEASE_TTL + 1 s), a stopped one at once (the
// release is published).
//
// Guarantees:
//   - The offset confirmed to Telegram (the next getUpdates' offset) never
//     passes an update that is not durably appended: a batch's updates are
//     appended in update_id order, one by one, and the offset past the last
//     one appended is stored in Redis (keys.Space.PollOffset) before the
//     next getUpdates sends it. An update Redis refuses (backlog full,
//     unavailable, not acknowledged by REDIS_WAIT_REPLICAS replicas) stops
//     the batch there: the offset stays before it and the poller backs off.
//   - A new poller resumes at the stored offset, so Telegram returns what
//     its predecessor had not confirmed; what the predecessor appended but
//     could not store the offset of (a crash between the two) comes back
//     and is dropped by the dedupe (DUPLICATE_UPDATE, DEDUPE_WINDOW).
//   - A stale poller cannot append or move the offset: before its first
//     getUpdates a new poller raises every shard's poll fence to its token
//     (queue.ClaimPollFence), and an append with a lower token is refused by
//     Redis (queue.EnqueuePolled); the offset is written by a script fenced
//     by the poll lease (lease.Manager.RunFenced). A poller paused past its
//     TTL (SIGSTOP, GC) that wakes up mid-batch is refused and stops
//     (POLL_STOPPED reason_code=FENCED): nothing it held is appended twice.
//   - Telegram errors back off exponentially (POLL_BACKOFF); a 429 waits at
//     least its retry_after; a 409 because a webhook is set is
//     WEBHOOK_CONFLICT, retried with backoff: the poller never deletes the
//     webhook. A 409 because another getUpdates came in (another process
//     polls with the token) is POLL_BACKOFF reason_code=POLL_CONFLICT.
//
// Not guaranteed:
//   - Exactly once into the streams relies on the dedupe for a poller that
//     died between an append and the offset's write: past DEDUPE_WINDOW the
//     update would be appended again (a dispatch is at least once anyway).
//   - Between a new poller's acquisition and its claim of the shards, a
//     predecessor that has not yet noticed its loss may still append (then
//     its offset write is refused, and the successor's appends of the same
//     updates are duplicates).
//   - Updates arrive as fast as one getUpdates loop goes: one poller is the
//     ingest's ceiling (docs/BENCHMARKS.md measures it).
package poll
