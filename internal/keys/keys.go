// Package keys builds every Redis key the dispatcher uses. Nothing else in the
// project spells a key.
//
// Keys that belong to a shard carry the hash tag {NS:N} so that every key of
// one shard lives in one Redis Cluster hash slot: each Lua script touches
// keys of one slot only and runs unchanged on a single Redis, Sentinel or
// Cluster. Keys that are not per shard (the instance registry, the event
// journal, the debug flag) are only used by single-key commands.
//
// Layout, for namespace "tgd" and shard 0:
//
//	{tgd:0}:stream        stream of updates (consumer group "dispatch")
//	{tgd:0}:lease         hash {holder, owner, token}, expires with the lease
//	{tgd:0}:fence         highest fencing token handed out
//	{tgd:0}:seen:<uid>    dedupe marker of one update_id, expires with DEDUPE_WINDOW
//	{tgd:0}:dlq           dead-letter stream
//	{tgd:0}:jobs          jobs for the downstream generator
//	{tgd:0}:fsm:<chat>:<user>  FSM state of one user in one chat
//	{tgd:0}:poll-fence    highest poll-lease token that claimed the shard's stream (INGEST=poll)
//	{tgd:poll:0}:lease    the poll lease (INGEST=poll): shard 0 of the space Poll()
//	{tgd:poll:0}:fence    highest poll-lease token handed out
//	{tgd:poll:0}:offset   the next getUpdates offset, written under the poll lease's token
//	tgd:poll:lease-released  pub/sub channel announcing a released poll lease
//	tgd:lease-released    pub/sub channel announcing a released lease
//	tgd:instance:<id>     heartbeat of a live instance
//	tgd:members           live instances sharing the shards (sorted set, score = expiry)
//	tgd:journal:meta      the event journal's registry (hash: segments, budget, names, debug users)
//	tgd:journal:<tier>:<id>  one journal segment (hash: cid -> chain, or user -> last cids)
//	tgd:journal:evicted   what the journal budget evicted (list, newest first)
//	tgd:debug-until       runtime debug level flag
//	tgd:deployment        hash {mode, bot_id, recorded_at}: the deployment's mode and bot, recorded by its first instance
//	tgd:webhook-info      the last getWebhookInfo answer (JSON), written by the webhook check's instance
package keys

import (
	"strconv"
	"strings"
)

// Group is the consumer group every shard stream is read with.
const Group = "dispatch"

// Space builds the keys of one namespace.
type Space struct{ ns string }

// New returns the key builder of namespace ns (REDIS_NAMESPACE).
func New(ns string) Space { return Space{ns: ns} }

// Namespace returns the namespace.
func (s Space) Namespace() string { return s.ns }

// Shard returns the key builder of one shard.
func (s Space) Shard(n int) Shard {
	return Shard{n: n, tag: "{" + s.ns + ":" + strconv.Itoa(n) + "}:"}
}

// Shard builds the keys of one shard; all of them hash to one slot.
type Shard struct {
	n   int
	tag string
}

// N returns the shard number.
func (k Shard) N() int { return k.n }

// Tag returns the hash tag prefix shared by the shard's keys.
func (k Shard) Tag() string { return k.tag }

// Stream is the shard's stream of updates.
func (k Shard) Stream() string { return k.tag + "stream" }

// Lease is the shard's lease hash.
func (k Shard) Lease() string { return k.tag + "lease" }

// Fence holds the highest fencing token handed out for the shard.
func (k Shard) Fence() string { return k.tag + "fence" }

// Seen is the dedupe marker of one update_id; its value is the cid of the
// update that set it.
func (k Shard) Seen(updateID int64) string {
	return k.tag + "seen:" + strconv.FormatInt(updateID, 10)
}

// DLQ is the shard's dead-letter stream.
func (k Shard) DLQ() string { return k.tag + "dlq" }

// Jobs is the shard's stream of jobs for the downstream generator.
func (k Shard) Jobs() string { return k.tag + "jobs" }

// Probe is a key written and deleted at once by an instance's start-up
// check of its Redis permissions (a stream, like the shard's own).
func (k Shard) Probe() string { return k.tag + "probe" }

// FSM is the state of one user in one chat.
func (k Shard) FSM(chatID, userID int64) string {
	return k.tag + "fsm:" + strconv.FormatInt(chatID, 10) + ":" + strconv.FormatInt(userID, 10)
}

// App is the key name of a bot's own state in this shard (the public
// API's Context.Key): "{ns:N}:app:" + name, in the shard's hash slot, so a
// fenced script may touch it together with the shard's lease.
func (k Shard) App(name string) string { return k.tag + "app:" + name }

// PollFence holds the highest poll-lease token that claimed the shard's
// stream (INGEST=poll): a poller's append with a lower token is refused.
func (k Shard) PollFence() string { return k.tag + "poll-fence" }

// Poll returns the key space of the poll lease (INGEST=poll): a lease like a
// shard's, held through lease.Manager as shard 0 of this space, so its hash,
// fencing counter and release channel are {ns:poll:0}:lease,
// {ns:poll:0}:fence and ns:poll:lease-released. REDIS_NAMESPACE has no
// colons, so no namespace's own keys can be these.
func (s Space) Poll() Space { return Space{ns: s.ns + ":poll"} }

// PollOffset is the next getUpdates offset of the namespace's poller: every
// update below it is on a shard stream. It shares the poll lease's hash slot,
// so that it is written with a script fenced by the poll lease.
func (s Space) PollOffset() string { return s.Poll().Shard(0).Tag() + "offset" }

// LeaseReleased is the pub/sub channel on which a released shard number is
// announced.
func (s Space) LeaseReleased() string { return s.ns + ":lease-released" }

// Instance is the heartbeat key of one live instance.
func (s Space) Instance(id string) string { return s.ns + ":instance:" + id }

// InstancePattern matches every instance heartbeat key (for SCAN).
func (s Space) InstancePattern() string { return s.ns + ":instance:*" }

// Members is the sorted set of the instances that share the shards: member
// = instance id, score = when the entry expires (Redis time, ms). The
// shard balancer keeps it; a single-key script reads and writes it.
func (s Space) Members() string { return s.ns + ":members" }

// JournalMeta is the event journal's registry: its segments, the budget in
// force, the names of the instances that write it, its debug users.
func (s Space) JournalMeta() string { return s.ns + ":journal:meta" }

// JournalSegment is one segment of a tier of the event journal; id is the
// segment's creation time (Unix ms).
func (s Space) JournalSegment(tier string, id int64) string {
	return s.ns + ":journal:" + tier + ":" + strconv.FormatInt(id, 10)
}

// JournalEvicted is the list of the journal segments the budget evicted.
func (s Space) JournalEvicted() string { return s.ns + ":journal:evicted" }

// Shards holds the shard count every instance of the namespace must use,
// recorded by the first one (SET NX).
func (s Space) Shards() string { return s.ns + ":shards" }

// Deployment is the hash that records the deployment's mode (real or
// sandbox) and its bot's id: written by the first instance of the
// namespace, checked by every later one before it registers.
func (s Space) Deployment() string { return s.ns + ":deployment" }

// WebhookInfo holds the last getWebhookInfo answer as the webhook check
// (the holder of shard 0) saw it, for `dispatcher status`.
func (s Space) WebhookInfo() string { return s.ns + ":webhook-info" }

// StreamPattern matches every shard's update stream (for SCAN).
func (s Space) StreamPattern() string { return "{" + s.ns + ":*}:stream" }

// ShardOfKey returns the shard number of a per-shard key of this namespace
// ({ns:N}:...), and false for any other key.
func (s Space) ShardOfKey(key string) (int, bool) {
	prefix := "{" + s.ns + ":"
	if !strings.HasPrefix(key, prefix) {
		return 0, false
	}
	num, _, ok := strings.Cut(key[len(prefix):], "}")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil && n >= 0
}

// DebugUntil is the runtime debug flag; while it exists every instance logs
// at debug level.
func (s Space) DebugUntil() string { return s.ns + ":debug-until" }
