// Package membership knows which instances of a namespace are alive and
// shares the shards among them; package lease, beside it, decides who
// holds each shard.
//
//   - Registry: one heartbeat key per INSTANCE_ID (what `dispatcher status`
//     and the ops page list). Register refuses a live duplicate id
//     (ErrDuplicateInstance, a configuration error); Run reports
//     ErrInstanceTakenOver when another process took the id over while this
//     one was paused or cut off, and the instance stops. Its Owner is the
//     per-process identity the lease scripts compare.
//   - Balancer: the live instances of a namespace with SHARDS > 1, in one
//     sorted set; its Want is the lease Manager's Config.Want, so that each
//     instance holds at most ceil(SHARDS / live) shards and hands the rest
//     over by release (never by expiry).
//
// Guarantees: a member that stops beating is forgotten within its TTL; a
// clean stop leaves at once (Deregister, Balancer's leave), so that the
// others take its shards without waiting.
package membership
