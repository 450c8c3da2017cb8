package chaos

import (
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// Kind is the kind of an update the driver sends.
type Kind string

// Kinds of updates.
const (
	// KindEdited is an edited_message: no handler takes it, so it is
	// dispatched without a Bot API call (the load that measures the
	// dispatcher itself).
	KindEdited Kind = "edited_message"
	// KindStart is a /start command: the bot sends the main menu.
	KindStart Kind = "start"
	// KindCallback is a button click: the bot answers the callback query.
	KindCallback Kind = "callback"
)

// Sent is one update the driver posted.
type Sent struct {
	UpdateID int64
	Chat     int64
	Kind     Kind
	QueryID  string // callbacks: the callback query id
}

// Fault is one disruption a scenario caused.
type Fault struct {
	Label string
	At    time.Time
	// Token is shard 0's fencing token when the fault began (0: unknown).
	// The takeover is the first LEASE_ACQUIRED after At with a larger one.
	Token int64
	// Unclean is set when a term may end without its entries being
	// acknowledged (kill, pause, partition, Redis loss): each such fault
	// adds WORKERS to the duplicate bound. A clean handover (SIGTERM) adds
	// nothing.
	Unclean bool
}

// Expect is how a scenario expects a process to end.
type Expect string

// Expected ends of a process.
const (
	ExpectRunning Expect = "running"   // still running at the end
	ExpectExit0   Expect = "exit 0"    // stopped with SIGTERM
	ExpectKilled  Expect = "killed -9" // killed with SIGKILL
	ExpectExit1   Expect = "exit 1"    // stopped itself: a runtime failure (its id taken over)
	ExpectExit2   Expect = "exit 2"    // refused to start: bad configuration
)

// Proc is what became of one process.
type Proc struct {
	ID     string
	Expect Expect
	Exited bool
	Code   int    // exit code, or minus the signal number
	Output string // what it wrote that was not a JSON line
}

// Memory is one instance's runtime figures before the load and after it
// ended.
type Memory struct {
	Instance                          string
	HeapBefore, HeapAfter             float64 // go_memstats_heap_inuse_bytes
	GoroutinesBefore, GoroutinesAfter float64 // go_goroutines
	ResidentBefore, ResidentAfter     float64 // process_resident_memory_bytes
	Measured                          bool    // false: the instance did not answer /metrics
}

// Observation is everything a scenario saw, the input of Check.
type Observation struct {
	Sent     []Sent
	Accepted map[int64]bool // update_ids answered 200
	Lines    []proctest.Line
	Calls    []fakebot.Call
	Faults   []Fault
	Procs    []Proc
	Memory   []Memory
	Workers  int
	// Replayed counts dead letters re-enqueued with `dlq replay`.
	Replayed int
	// Start and End bound the load (for the longest pause between
	// dispatches).
	Start, End time.Time
	// Lease is the lease whose takeovers are measured: "" for shard 0's,
	// "poll" for the poll lease (LEASE_ACQUIRED lease=poll).
	Lease string
	// Poll is what the long-polling scenarios saw (nil for the webhook's).
	Poll *PollStats
}

// PollStats is the long-polling side of a scenario: the streams and
// Telegram's record of getUpdates.
type PollStats struct {
	// Appends counts the entries ever appended to the shard streams (XINFO
	// STREAM entries-added): each update once means Appends == accepted.
	Appends int64
	// Confirmed is the offset Telegram was last told (every update below it
	// forgotten); Last the highest update_id queued.
	Confirmed, Last int64
	// Conflicts counts getUpdates ended because another came in; Paused is
	// how many pollers a scenario paused (each may leave one open request
	// that its successor's ends).
	Conflicts, Paused int
	// Duplicates counts DUPLICATE_UPDATE source=poll: updates fetched again
	// after a poller died between their append and its offset.
	Duplicates int
}
