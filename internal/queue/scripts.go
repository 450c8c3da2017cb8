package queue

import (
	_ "embed"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

var (
	//go:embed enqueue.lua
	enqueueLua string
	//go:embed read.lua
	readLua string
	//go:embed claim.lua
	claimLua string
	//go:embed ack.lua
	ackLua string
	//go:embed deadletter.lua
	deadLetterLua string
	//go:embed replay.lua
	replayLua string
	//go:embed pollfence.lua
	pollFenceLua string
	//go:embed reclaim.lua
	reclaimLua string
	//go:embed forget.lua
	forgetLua string

	enqueueScript    = redis.NewScript(enqueueLua)
	replayScript     = redis.NewScript(replayLua)
	pollFenceScript  = redis.NewScript(pollFenceLua)
	readScript       = lease.NewFencedScript(readLua)
	claimScript      = lease.NewFencedScript(claimLua)
	ackScript        = lease.NewFencedScript(ackLua)
	deadLetterScript = lease.NewFencedScript(deadLetterLua)
	reclaimScript    = lease.NewFencedScript(reclaimLua)
	forgetScript     = lease.NewFencedScript(forgetLua)
)
