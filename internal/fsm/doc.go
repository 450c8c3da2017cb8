// Package fsm keeps the bot's state per user and chat in Redis: the screen
// the user is on, the parameters collected so far and a revision number,
// in one hash per (chat, user) under the shard's hash tag, with an expiry.
//
// Guarantees:
//   - every write is a fenced Lua script (lease.FencedScript): it is made
//     only while the dispatch's fencing token is the shard's current one,
//     and refused with lease.ErrFenced otherwise;
//   - a write is a compare-and-set on the revision: it names the revision
//     it was computed from and is refused with a *StaleError (errors.Is
//     ErrStale) carrying the current state when another write came first,
//     so two concurrent clicks cannot both move the user, and no state is
//     skipped (the aiogram#1317 failure: state read before the lock);
//   - revisions only grow: each write adds one, and a user with no stored
//     state starts from the current time in milliseconds, so a button
//     rendered before the state expired never matches a later revision;
//   - a job and the transition that queues it are written by one script,
//     so a confirmed job is queued exactly when the state moves on.
//
// Not guaranteed: reads are not fenced (a PASSIVE instance may read; it
// cannot write). A state is forgotten after its TTL without a trace.
package fsm
