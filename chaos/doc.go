// Package chaos is the fault suite of the dispatcher: real `dispatcher`
// processes on a real redis-server, Telegram played by the recording fake
// Bot API, and a driver that posts like Telegram (across instances as a load
// balancer would, resending on any non-2xx or timeout), while a scenario
// breaks something: the leader is killed or paused, every instance is
// restarted in turn, Redis restarts, stalls past the read timeout or becomes
// unreachable, one instance is cut off from Redis (also while its handlers
// ignore their context), handlers outlive HANDLER_TIMEOUT, the Bot API
// throttles, fails and asks for flood waits beyond the retry budget, a twin
// starts under a paused leader's INSTANCE_ID, an instance comes with another
// SHARDS.
//
// After every scenario the same invariants are checked from the instances'
// logs and the fake Bot API's record (Check):
//
//   - every update answered 200 is dispatched (DISPATCH_OK) at least once or
//     dead-lettered (DEAD_LETTERED): nothing is lost;
//   - duplicate dispatches stay within the documented bound (docs/queue.md:
//     at most WORKERS per term that ended uncleanly; none for a clean
//     handover);
//   - the first starts of one chat's updates follow the order they were
//     accepted in (the driver sends a chat's updates one after another, as
//     Telegram does), and so do their first successes (dead letters aside):
//     no update overtakes an earlier one waiting for its retry;
//   - no DISPATCH_START under a fencing token older than one that already
//     dispatched;
//   - every callback query is answered, once per dispatch that ran its
//     handler (so exactly once when it was dispatched once);
//   - no process crashed (only the ones a scenario killed are gone, and no
//     output holds a panic, a fatal error or a data race);
//   - goroutines and heap are back near their baseline once the load ends.
//
// `make chaos` runs every scenario and writes docs/RELIABILITY.md from the
// results (Render). The scenarios live in the package's tests and run only
// when asked (the -report flag or DISPATCHER_CHAOS=1), so `go test ./...`
// runs only the checker's and the report's unit tests.
//
// Not covered: Redis Cluster and Sentinel failover (e2e/scale_test.go
// exercises them), clock skew between hosts (every process here shares one
// clock), and network faults between the instances and the Bot API other
// than the Bot API's own error answers.
package chaos
