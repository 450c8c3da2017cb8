// Package lease elects, per shard, the one instance that dispatches the
// shard's updates, and fences the Redis writes made on its behalf.
//
// Each shard has one lease: a Redis hash {holder, owner, token} with a TTL at
// keys.Shard.Lease(). A Manager tries to acquire every shard's lease, renews
// the ones it holds, steps down by itself when it can no longer prove it
// holds one, and releases them on shutdown. Acquire, renew and release are
// Lua scripts on keys of the shard's hash slot, so they run unchanged on a
// single Redis, Sentinel or Cluster.
//
// Guarantees:
//   - At most one acquisition of a shard's lease is live in Redis at a time,
//     and each acquisition gets a fencing token larger than every earlier
//     token of that shard, also after Redis lost its data (a restart without
//     persistence, a failover to a replica that missed the write), within the
//     limits below: the token is the largest of the stored counter + 1, Redis
//     TIME in microseconds and the highest token the contender has seen + 1.
//   - A holder stops considering itself the holder (Valid turns false, the
//     work context is cancelled, OnStopped follows) once StepDownAfter has
//     passed since the send time of its last successful renewal, measured
//     on its own clock. The key cannot expire in Redis before TTL has passed
//     since that same renewal reached Redis, so with the default timings a
//     holder gives up a third of the TTL before any successor can start,
//     provided its clock runs at most that much slower than Redis's.
//   - A FencedScript (and Manager.RunFenced) refuses a write unless its token
//     is the one in the lease hash: a stale holder, a paused one that woke
//     up, or one whose lease Redis forgot, cannot change Redis state. The
//     check is equality, so even a token that had gone backwards could only
//     pass if the exact value were handed out again.
//   - After a step-down the lease is released only once OnStarted has
//     returned (the worker's handlers of the shard returned or were
//     abandoned), and only if that happens before the key could expire
//     (send time of the last good renewal + TTL); otherwise it is left to
//     expire, so no successor starts beside work still running here.
//   - A clean shutdown releases each held lease with a fresh bounded context
//     and publishes the release, so a PASSIVE instance acquires at once
//     instead of after the TTL.
//   - OnStopped runs once for every OnStarted, after OnStarted has returned.
//   - Every Redis call is bounded by CallTimeout (shorter than the renew
//     interval), even when the client ignores context deadlines.
//
// Not guaranteed:
//   - Nothing outside Redis is fenced. A holder that was paused (GC, SIGSTOP,
//     a VM migration) can finish a Telegram call it had already started
//     after its successor began; Valid is checked right before each dispatch
//     and the work context is cancelled at step-down, which bounds such calls
//     to the ones in flight at the pause.
//   - Tokens increase across a data loss only while the Redis server's clock
//     does not step back further than the time since the last acquisition,
//     or some live contender has seen the later token (it passes it as its
//     floor). A token issued and lost with Redis within the window of a
//     backwards clock step could be issued again.
//   - After Redis lost its data, the former holder believes it leads until its
//     next renewal (at most RenewEvery); a successor may already hold the
//     lease. Its Redis writes are refused (fencing); its Valid is stale for
//     that time.
//   - Instance ids must be unique: the Registry (package membership)
//     refuses a live duplicate at start, and a process that finds its id
//     taken over while it runs (it was paused past the heartbeat's ttl and
//     replaced) gets ErrInstanceTakenOver, on which the server stops at once
//     and exits 1.
//     Until then the two cannot disturb each other's leases: a lease is
//     owned by a per-process identity (Config.Owner: INSTANCE_ID and a
//     random nonce), and acquire, renew and release compare it, so a twin
//     never renews, releases or re-takes the other's live lease.
package lease
