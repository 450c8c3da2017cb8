package fsm

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

//go:embed transition.lua
var transitionLua string

var transitionScript = lease.NewFencedScript(transitionLua)

// AnyRev makes a write unconditional (for /start, which always resets).
const AnyRev int64 = -1

// DefaultTTL is how long a state lives after its last write.
const DefaultTTL = 24 * time.Hour

// DefaultJobsMaxLen caps the jobs stream: at it, the entries every consumer
// group has read and acknowledged are trimmed, and a job is refused
// (ErrJobsFull) when that leaves the stream still at the cap. An unread job
// is never trimmed.
const DefaultJobsMaxLen = 100000

// Key names the state of one user in one chat.
type Key struct{ ChatID, UserID int64 }

// State is one user's state in one chat.
type State struct {
	// Screen is the screen the user is on ("" when there is no state).
	Screen telemetry.ScreenID `json:"screen"`
	// Values are the parameters collected so far.
	Values map[string]string `json:"values,omitempty"`
	// UpdateID is the update that wrote this state; a redelivery of it
	// finds its own write (see StaleError).
	UpdateID int64 `json:"update_id,omitempty"`
	// Rev is the state's revision (0 when there is no state). It is kept
	// beside the JSON, not in it.
	Rev int64 `json:"-"`
}

// Get returns value k of the state ("" if absent).
func (s State) Get(k string) string { return s.Values[k] }

// With returns a copy of s on screen with the values set (an empty value
// deletes its key).
func (s State) With(screen telemetry.ScreenID, kv ...string) State {
	out := State{Screen: screen, Rev: s.Rev, Values: make(map[string]string, len(s.Values)+len(kv)/2)}
	for k, v := range s.Values {
		out.Values[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out.Values, kv[i])
		} else {
			out.Values[kv[i]] = kv[i+1]
		}
	}
	return out
}

// Job is an entry for the downstream generator's stream, written together
// with a transition.
type Job struct {
	// Fields are name, value pairs.
	Fields []string
}

// Store reads and writes states. It is safe for concurrent use.
type Store struct {
	c          redis.Cmdable
	ttl        time.Duration
	jobsMaxLen int64
	now        func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that seeds new revisions (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithJobsMaxLen caps the jobs stream (default DefaultJobsMaxLen; 0: no
// cap).
func WithJobsMaxLen(n int64) Option { return func(s *Store) { s.jobsMaxLen = n } }

// New returns a Store; ttl <= 0 means DefaultTTL. It never closes c.
func New(c redis.Cmdable, ttl time.Duration, opts ...Option) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s := &Store{c: c, ttl: ttl, jobsMaxLen: DefaultJobsMaxLen, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Get returns the state of k in the shard of ctx's fence; a user with no
// state gets the zero State.
func (s *Store) Get(ctx context.Context, k Key) (State, error) {
	f, ok := lease.FenceFrom(ctx)
	if !ok {
		return State{}, ErrNoFence
	}
	vals, err := s.c.HMGet(ctx, f.Shard.FSM(k.ChatID, k.UserID), "rev", "state").Result()
	if err != nil {
		return State{}, fmt.Errorf("fsm: get: %w", err)
	}
	revText, _ := vals[0].(string)
	data, _ := vals[1].(string)
	if revText == "" {
		return State{}, nil
	}
	rev, err := strconv.ParseInt(revText, 10, 64)
	if err != nil {
		return State{}, fmt.Errorf("%w: rev %q", ErrCorrupt, revText)
	}
	return decode(rev, data)
}

// Screen returns the user's current screen (for the router's text routing).
func (s *Store) Screen(ctx context.Context, chatID, userID int64) (telemetry.ScreenID, error) {
	st, err := s.Get(ctx, Key{ChatID: chatID, UserID: userID})
	return st.Screen, err
}

func decode(rev int64, data string) (State, error) {
	var st State
	if data != "" {
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	st.Rev = rev
	return st, nil
}

// Set writes next as k's state if k is still at revision expected (AnyRev:
// whatever it is), stamped with the update of ctx, and returns it with its
// new revision. It returns a *StaleError when another write came first and
// lease.ErrFenced when ctx's token is no longer current.
func (s *Store) Set(ctx context.Context, k Key, expected int64, next State) (State, error) {
	st, _, err := s.Commit(ctx, k, expected, next, nil)
	return st, err
}

// Commit is Set that also appends job (when not nil) to the shard's jobs
// stream in the same script; it returns the job's stream id. At the jobs
// stream's cap it first trims the entries every consumer group has read and
// acknowledged; when that frees nothing it writes nothing (the state
// neither) and returns a *JobsFullError (errors.Is ErrJobsFull).
func (s *Store) Commit(ctx context.Context, k Key, expected int64, next State, job *Job) (State, string, error) {
	f, ok := lease.FenceFrom(ctx)
	if !ok {
		return State{}, "", ErrNoFence
	}
	if u, ok := telemetry.UpdateFrom(ctx); ok {
		next.UpdateID = u.UpdateID
	}
	data, err := json.Marshal(next)
	if err != nil {
		return State{}, "", fmt.Errorf("fsm: encode: %w", err)
	}
	args := []any{expected, data, s.ttl.Milliseconds(), s.now().UnixMilli(), s.jobsMaxLen}
	if job != nil {
		if len(job.Fields) == 0 || len(job.Fields)%2 != 0 {
			return State{}, "", fmt.Errorf("fsm: job needs name, value pairs, got %d fields", len(job.Fields))
		}
		for _, v := range job.Fields {
			args = append(args, v)
		}
	}
	keys := []string{f.Shard.FSM(k.ChatID, k.UserID), f.Shard.Jobs()}
	res, err := transitionScript.Run(ctx, s.c, f.Shard, f.Token, keys, args...).Slice()
	if err != nil {
		return State{}, "", fmt.Errorf("fsm: set: %w", lease.MapFenced(err))
	}
	if len(res) != 3 {
		return State{}, "", fmt.Errorf("fsm: set: unexpected reply %v", res)
	}
	rev, _ := res[1].(int64)
	third, _ := res[2].(string)
	if status, _ := res[0].(int64); status == 2 {
		return State{}, "", &JobsFullError{Shard: f.Shard.N(), Len: rev, Cap: s.jobsMaxLen}
	}
	if ok, _ := res[0].(int64); ok != 1 {
		cur, err := decode(rev, third)
		if err != nil {
			return State{}, "", err
		}
		if rev == 0 {
			cur = State{}
		}
		return State{}, "", &StaleError{Expected: expected, Current: cur}
	}
	next.Rev = rev
	return next, third, nil
}

// IsStale returns the current state of a *StaleError.
func IsStale(err error) (State, bool) {
	var se *StaleError
	if errors.As(err, &se) {
		return se.Current, true
	}
	return State{}, false
}
