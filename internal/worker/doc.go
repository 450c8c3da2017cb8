// Package worker is the consumer of a shard's stream on the instance that
// holds the shard's lease: a bounded pool of workers that dispatches every
// update to the Handler, one chat at a time in stream order, retries
// failures with backoff, dead-letters an update after MaxDeliveries, and
// drains on shutdown.
//
// The lease manager calls RunShard(ctx, shard, token) when it wins a shard;
// ctx ends with the leadership. RunShard first takes over every entry left
// pending by a predecessor (a crashed or stale instance, or this one's
// earlier term), oldest first, and only then reads new entries, with
// blocking waits that never take an entry themselves. After a failed read
// (its reply lost: it may have run on Redis) it takes back its own pending
// entries that it does not hold before reading again, and a sweep every
// ReclaimIdle does the same for its own entries idle that long. It removes
// the group's consumers of instances that are gone (Config.Live).
//
// Guarantees:
//   - Bounded: the entries in hand (being dispatched, waiting behind their
//     chat's earlier update, or waiting for a retry) never exceed Workers
//     across all shards of the pool; a read asks for no more entries than
//     there are free workers.
//   - Per-chat order: the updates of one chat (else one user, else the
//     update alone) are dispatched one at a time, in stream order; the next
//     starts only after the previous one was acknowledged or dead-lettered.
//     Once one is left pending (the term ends, a drain), so is every later
//     one of the chat in this term. Different chats run in parallel.
//   - Every read, claim, ack and dead-letter is fenced by the shard's token:
//     a refused write logs the update's REJECTED event with PASSIVE_REJECT,
//     leaves the entry pending for the ACTIVE instance and ends the run.
//     Leadership.Valid is checked right before each DISPATCH_START.
//   - A handler error, panic or timeout is a failed delivery: the update is
//     delivered again after a backoff (RetryBackoff doubled per delivery, at
//     most RetryBackoffMax) while its chat waits; after MaxDeliveries
//     deliveries it is dead-lettered (DEAD_LETTERED, reason MAX_DELIVERIES)
//     and the chat moves on. A callback_query dead-lettered without a
//     dispatch in this term is answered (Config.AnswerCallback) with
//     SILENCE_WARNING, since no handler's guard did. Deliveries are counted by Redis (the pending
//     entry's delivery count), so the count survives crashes: an update
//     that kills its instance every time is dead-lettered too.
//   - Timeouts: a handler gets a context with HandlerTimeout. If it has not
//     returned by then, DISPATCH_FAIL (HANDLER_TIMEOUT) is logged at once;
//     the chat's next step (the retry, or its next update) waits until the
//     handler really returns: at most one handler per chat runs. The wait is
//     bounded: AbandonAfter past the deadline, LeaseEndGrace past the end of
//     the lease, none once a drain ran out; then the handler's goroutine is
//     abandoned (DISPATCH_ABANDONED, HANDLER_ABANDONED; counted by Abandoned)
//     and the chat moves on. RunShard returns only after every handler of
//     its term returned or was abandoned, so its return is the moment the
//     shard's handlers on this instance are done under that bound.
//   - Flood waits: a handler error that asks for a delay (Throttled: a 429's
//     retry_after) delays the next delivery at least that much, and an
//     update refused only so in this term is not dead-lettered before
//     MaxDeliveries times the longest delay has passed.
//   - Drain stops reading at once, lets in-hand updates finish and be
//     acknowledged, does not start retries, and leaves every unfinished
//     entry pending for the successor, with its chat's later entries.
//
// Not guaranteed:
//   - Exactly once. An update is dispatched again when its instance dies or
//     loses the lease between the handler's end and the ack, when a
//     handler timed out but its effects happened, and when a stale leader
//     was still running a handler at the moment its successor took the
//     entry over. Fenced writes made by handlers (lease.FenceFrom) are
//     refused for the stale one.
//   - Order across a takeover: an update redelivered after a crash or a
//     timeout can run after later updates of its chat only in the one case
//     where the stale and the new leader overlap; within one leader's term
//     order holds.
//   - When the lease's ctx ends, running handlers are cancelled (and waited
//     for within LeaseEndGrace) and updates still waiting are left pending
//     (PASSIVE_REJECT): a handover does not finish in-hand work, a Drain
//     does.
//   - A handler abandoned while it still makes calls with a context of its
//     own can still write to the Bot API; nothing here can stop a goroutine.
package worker
