package fsm

import (
	"errors"
	"fmt"
)

// ErrStale matches a *StaleError: the state changed since it was read.
var ErrStale = errors.New("fsm: state changed since it was read")

// ErrNoFence is returned for a call whose context carries no lease.Fence:
// the dispatch's shard and token are unknown.
var ErrNoFence = errors.New("fsm: no fence in the context")

// ErrCorrupt is returned for a stored state that cannot be decoded.
var ErrCorrupt = errors.New("fsm: stored state is corrupt")

// StaleError is a compare-and-set that lost: Current is the state now.
type StaleError struct {
	Expected int64
	Current  State
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("fsm: state changed: expected revision %d, found %d (%s)", e.Expected, e.Current.Rev, e.Current.Screen)
}

// Is makes errors.Is(err, ErrStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// ErrJobsFull matches a *JobsFullError: the shard's jobs stream holds its
// cap of entries that a consumer group has not read and acknowledged yet (or
// it has no consumer group at all), so the job was refused, not trimmed.
var ErrJobsFull = errors.New("fsm: jobs stream full of unread jobs")

// JobsFullError is a job refused at the jobs stream's cap.
type JobsFullError struct {
	Shard int
	Len   int64 // entries in the stream
	Cap   int64
}

func (e *JobsFullError) Error() string {
	return fmt.Sprintf("%v: shard %d holds %d jobs (cap %d) not yet read and acknowledged by every consumer group; nothing written",
		ErrJobsFull, e.Shard, e.Len, e.Cap)
}

// Is makes errors.Is(err, ErrJobsFull) true.
func (e *JobsFullError) Is(target error) bool { return target == ErrJobsFull }
