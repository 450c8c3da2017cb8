// Package dispatcher runs your Telegram bot on as many instances as you
// like, on one Redis, without losing, duplicating or reordering a user's
// updates — and without a line of leader election in your code.
//
// You write a Handler (usually a Router of command, button and text
// routes); New builds an instance from a Config (the environment variables
// of docs/configuration.md) and your handler; Run runs it until its context
// ends:
//
//	r := dispatcher.NewRouter()
//	r.Command("start", func(c *dispatcher.Context) error {
//		c.Accept("MAIN")
//		_, err := c.Reply("hello", nil)
//		return err
//	})
//	cfg, err := dispatcher.ConfigFromEnv()
//	...
//	d, err := dispatcher.New(cfg, r)
//	...
//	err = d.Run(ctx)
//
// With no BOT_TOKEN and no REDIS_URL the instance runs in sandbox mode on
// an embedded Redis: a fake Bot API on its own listener records what the
// bot sends (GET /sandbox/messages). See docs/your-bot.md.
//
// # What is guaranteed
//
// For every update Telegram delivered to any instance's webhook (or that
// the one polling instance fetched with INGEST=poll):
//
//   - it is handled: Handle is called until it returns nil, on whichever
//     instance holds the update's shard — also after that instance is
//     killed (kill -9, OOM, network cut): its successor takes the shard
//     within LEASE_TTL and dispatches what was not acknowledged. After
//     MAX_DELIVERIES failed calls the update is dead-lettered (`dispatcher
//     dlq`), never dropped silently;
//   - in order per chat: the updates of one chat are handled one at a time,
//     in Telegram's order; a chat's next update waits until Handle returned
//     for the previous one (Handle is synchronous: return when the work is
//     done);
//   - once in the normal case: an update is acknowledged when Handle
//     returns nil. It is handled again only when the instance died or lost
//     its shard between the work and the acknowledgement, or Handle failed;
//     make side effects idempotent by the update (Context.UpdateID) or
//     fence them (below);
//   - fenced: once an instance no longer holds an update's shard (a newer
//     holder exists), every call its handler makes through the Context —
//     Bot API calls (Context.Bot, Reply, Edit, Answer), FSM writes
//     (package fsm) and Scripts on your own Redis keys — is refused without
//     effect with an error matching ErrNotActive, and the dispatch is
//     logged PASSIVE_REJECT. A stale leader cannot write or talk to users;
//   - traced: each update has a correlation id (Context.CID) logged in
//     every event of its chain (CONTRACT §5): received, routed, accepted or
//     rejected with a reason code, rendered, answered, acknowledged. The
//     Router logs the routing events; your handler calls Context.Accept,
//     Reject and Render for the rest. `dispatcher trace CID` reads a chain.
//
// Not guaranteed: a handler that ignores its Context keeps running after
// HANDLER_TIMEOUT (Go cannot stop it); work done with another context
// (context.Background) is neither fenced nor traced.
//
// # Scale
//
// Instances share SHARDS shards (default 1; one shard is one ordered
// stream dispatched by one instance at a time). With SHARDS > 1 the live
// instances balance them: at most ceil(SHARDS/instances) each.
//
// # Related packages
//
// Package fsm keeps per-user state (fenced compare-and-set); package
// callback encodes button data within Telegram's 64 bytes.
package dispatcher
