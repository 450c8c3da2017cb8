// Package fsm is the per-user, per-chat state store of a bot on the
// dispatcher: the screen (step) the user is on, the values collected so
// far, and a revision. A handler gets its store from
// dispatcher.Context.FSM; New builds one on any Redis client for tools and
// tests.
//
// Guarantees:
//   - every write is fenced: it is made only while this instance holds
//     the update's shard under the dispatch's token, and is refused with an
//     error matching ErrNotActive otherwise (checked in this process first,
//     then in Redis by the same script that writes), so a stale leader can
//     never move a user;
//   - every write is a compare-and-set on the revision it was computed
//     from: when another write came first it is refused with a
//     *StaleError (errors.Is ErrStale) carrying the current state, so two
//     concurrent clicks cannot both move the user and no step is skipped;
//     AnyRev writes unconditionally (a /start that always resets);
//   - a redelivered update finds its own write: State.UpdateID is the
//     update that wrote the state, so a retry can tell "I did this" from
//     "someone else did";
//   - revisions only grow, also across a state's expiry.
//
// Not guaranteed: reads are not fenced (a PASSIVE instance may read). A
// state is forgotten TTL after its last write.
//
// The states live in the update's shard (one Redis hash slot per shard),
// so they must be used under a dispatch context: outside one, calls
// return ErrNoFence.
package fsm

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	ifsm "github.com/dispatcher-bot/dispatcher/internal/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// AnyRev makes Set unconditional.
const AnyRev int64 = ifsm.AnyRev

// DefaultTTL is how long a state lives after its last write.
const DefaultTTL = ifsm.DefaultTTL

// Errors of the store; all are errors.Is-able.
var (
	// ErrNotActive matches a write refused because this instance no longer
	// holds the update's shard (the same value as dispatcher.ErrNotActive).
	ErrNotActive = lease.ErrFenced
	// ErrStale matches a *StaleError.
	ErrStale = ifsm.ErrStale
	// ErrNoFence is returned outside a dispatch context.
	ErrNoFence = ifsm.ErrNoFence
	// ErrCorrupt is returned for a stored state that cannot be decoded.
	ErrCorrupt = ifsm.ErrCorrupt
)

// State is one user's state in one chat.
type State struct {
	// Screen is the step the user is on ("" when there is no state).
	Screen string
	// Values are the values collected so far.
	Values map[string]string
	// UpdateID is the update that wrote the state.
	UpdateID int64
	// Rev is the revision (0 when there is no state).
	Rev int64
}

// Get returns value k ("" if absent).
func (s State) Get(k string) string { return s.Values[k] }

// With returns a copy of s on screen with the given key, value pairs set
// (an empty value deletes its key). The revision is kept, so that
// Set(..., s.Rev, s.With(...)) is the usual step.
func (s State) With(screen string, kv ...string) State {
	return fromInternal(toInternal(s).With(telemetry.ScreenID(screen), kv...))
}

// StaleError is a write that lost the compare-and-set: Current is the
// state now.
type StaleError struct {
	Expected int64
	Current  State
}

func (e *StaleError) Error() string { return toInternalStale(e).Error() }

// Is makes errors.Is(err, ErrStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// Store reads and writes states. It is safe for concurrent use.
type Store struct{ s *ifsm.Store }

// Option changes a Store made by New.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock makes the store read the time from now (default time.Now):
// revisions are made from it (milliseconds), so a test with a fixed clock
// gets known revisions.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a store on client whose states live ttl after their last
// write (<= 0: DefaultTTL). It never closes client.
func New(client redis.Cmdable, ttl time.Duration, opts ...Option) *Store {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var io []ifsm.Option
	if o.now != nil {
		io = append(io, ifsm.WithClock(o.now))
	}
	return &Store{s: ifsm.New(client, ttl, io...)}
}

// Get returns the state of userID in chatID (the zero State when none).
func (s *Store) Get(ctx context.Context, chatID, userID int64) (State, error) {
	st, err := s.s.Get(ctx, ifsm.Key{ChatID: chatID, UserID: userID})
	return fromInternal(st), err
}

// Set writes next as the state of userID in chatID if it is still at
// revision expected (AnyRev: whatever it is), and returns it with its new
// revision. It returns a *StaleError when another write came first and an
// error matching ErrNotActive when this instance no longer holds the shard.
func (s *Store) Set(ctx context.Context, chatID, userID, expected int64, next State) (State, error) {
	if err := lease.CheckGate(ctx); err != nil {
		return State{}, err
	}
	st, err := s.s.Set(ctx, ifsm.Key{ChatID: chatID, UserID: userID}, expected, toInternal(next))
	var se *ifsm.StaleError
	if errors.As(err, &se) {
		return State{}, &StaleError{Expected: se.Expected, Current: fromInternal(se.Current)}
	}
	return fromInternal(st), err
}

// Screen returns the screen of userID in chatID ("" when none).
func (s *Store) Screen(ctx context.Context, chatID, userID int64) (string, error) {
	st, err := s.Get(ctx, chatID, userID)
	return st.Screen, err
}

func fromInternal(st ifsm.State) State {
	return State{Screen: string(st.Screen), Values: st.Values, UpdateID: st.UpdateID, Rev: st.Rev}
}

func toInternal(st State) ifsm.State {
	return ifsm.State{Screen: telemetry.ScreenID(st.Screen), Values: st.Values, UpdateID: st.UpdateID, Rev: st.Rev}
}

func toInternalStale(e *StaleError) *ifsm.StaleError {
	return &ifsm.StaleError{Expected: e.Expected, Current: toInternal(e.Current)}
}

// ErrJobsFull matches a Commit refused because the jobs stream is at its
// cap with jobs nobody has read yet: nothing was written, the state
// neither. Retrying does not help until the consumer catches up.
var ErrJobsFull = ifsm.ErrJobsFull

// Job is an entry of the shard's jobs stream ({ns:N}:jobs), written by
// Commit together with a transition, for a downstream worker to read
// (XREADGROUP). Fields are name, value pairs.
type Job struct {
	Fields []string
}

// Commit is Set that also appends job (nil: none) to the shard's jobs
// stream, in the same fenced script: the job is written exactly when the
// transition is, so one confirm queues one job, and a lost
// compare-and-set (*StaleError) or a fenced refusal (ErrNotActive) writes
// neither. It returns the saved state and the job's stream id ("" without
// a job). At the stream's cap, with every entry still unread, it writes
// nothing and returns an error matching ErrJobsFull.
func (s *Store) Commit(ctx context.Context, chatID, userID, expected int64, next State, job *Job) (State, string, error) {
	if err := lease.CheckGate(ctx); err != nil {
		return State{}, "", err
	}
	var ij *ifsm.Job
	if job != nil {
		ij = &ifsm.Job{Fields: job.Fields}
	}
	st, id, err := s.s.Commit(ctx, ifsm.Key{ChatID: chatID, UserID: userID}, expected, toInternal(next), ij)
	var se *ifsm.StaleError
	if errors.As(err, &se) {
		return State{}, "", &StaleError{Expected: se.Expected, Current: fromInternal(se.Current)}
	}
	return fromInternal(st), id, err
}

// IsStale returns the current state carried by a *StaleError in err.
func IsStale(err error) (State, bool) {
	var se *StaleError
	if errors.As(err, &se) {
		return se.Current, true
	}
	return State{}, false
}
