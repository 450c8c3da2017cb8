package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// ErrFenced is returned by a fenced write whose token is no longer the
// shard's current one: a newer holder exists (or the lease expired), and the
// write was not made.
var ErrFenced = errors.New("lease: fenced: token is not current")

// fencePrelude is put before the body of every fenced script. It refuses the
// script unless the caller's token is the one in the shard's lease hash.
//
//	KEYS[1] -> the shard's lease hash ({ns:N}:lease)
//	ARGV[1] -> the caller's fencing token
const fencePrelude = `local __fence = redis.call('HGET', KEYS[1], 'token')
if (not __fence) or __fence ~= ARGV[1] then
  return redis.error_reply('FENCED current=' .. tostring(__fence) .. ' caller=' .. ARGV[1])
end
`

// FencedScript is a Lua script that only runs while a given fencing token is
// current. Its body sees the lease hash as KEYS[1] and the token as ARGV[1];
// its own keys start at KEYS[2] and its own arguments at ARGV[2]. All keys
// must be keys of the same shard (one hash slot).
type FencedScript struct{ s *redis.Script }

// FencedSource returns the source a FencedScript of body runs (the fence
// prelude, then body), for tools that name scripts by their SHA1.
func FencedSource(body string) string { return fencePrelude + body }

// NewFencedScript returns the fenced form of a script body.
func NewFencedScript(body string) *FencedScript {
	return &FencedScript{s: redis.NewScript(FencedSource(body))}
}

// Run runs the script for shard under token. It returns ErrFenced (wrapped)
// when the token is not current.
func (f *FencedScript) Run(ctx context.Context, c redis.Scripter, shard keys.Shard, token int64, keys []string, args ...any) *redis.Cmd {
	k := make([]string, 0, len(keys)+1)
	k = append(k, shard.Lease())
	k = append(k, keys...)
	a := make([]any, 0, len(args)+1)
	a = append(a, token)
	a = append(a, args...)
	return f.s.Run(ctx, c, k, a...)
}

// IsFenced reports whether err is a fenced refusal, as returned by Redis
// for a FencedScript. Use MapFenced to turn it into ErrFenced.
func IsFenced(err error) bool {
	return err != nil && (errors.Is(err, ErrFenced) || strings.HasPrefix(err.Error(), "FENCED"))
}

// MapFenced returns ErrFenced (joined with the Redis reply) for a fenced
// refusal and err unchanged otherwise.
func MapFenced(err error) error {
	if err != nil && !errors.Is(err, ErrFenced) && strings.HasPrefix(err.Error(), "FENCED") {
		return errors.Join(ErrFenced, err)
	}
	return err
}

// Fence names the shard and token a piece of work runs under. The worker
// puts it in the context of every dispatch so that handlers can make fenced
// writes (FSM state, jobs) without knowing about leases.
type Fence struct {
	Shard keys.Shard
	Token int64
}

type fenceKey struct{}

// WithFence returns a context carrying f.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceFrom returns the fence carried by ctx.
func FenceFrom(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}

type termKey struct{}

// WithTerm returns ctx carrying term, the context of the leadership under
// which ctx's work runs (cancelled when it ends). Work that outlives its
// own context on purpose (an answer to the user after a dispatch's
// deadline) uses TermFrom to stop once the leadership ended.
func WithTerm(ctx, term context.Context) context.Context {
	return context.WithValue(ctx, termKey{}, term)
}

// TermFrom returns the leadership context WithTerm put in ctx, or nil.
func TermFrom(ctx context.Context) context.Context {
	t, _ := ctx.Value(termKey{}).(context.Context)
	return t
}

// FenceError is the refusal of a call made on a dispatch's behalf once this
// instance no longer holds the dispatch's shard under its token (see
// WithGate). It matches ErrFenced and ErrNotHeld with errors.Is; nothing
// was sent or written.
type FenceError struct {
	Shard int
	Token int64
}

func (e *FenceError) Error() string {
	return fmt.Sprintf("%v: this instance no longer holds shard %d under token %d", ErrFenced, e.Shard, e.Token)
}

// Is makes errors.Is(err, ErrFenced) and errors.Is(err, ErrNotHeld) true.
func (e *FenceError) Is(target error) bool { return target == ErrFenced || target == ErrNotHeld }

type gateKey struct{}

// WithGate returns ctx carrying valid, which tells whether this instance
// still holds a shard under a token (Manager.Valid). Calls made under the
// context that must not outlive the leadership (Bot API calls and fenced
// writes of the public API) ask CheckGate first.
func WithGate(ctx context.Context, valid func(shard int, token int64) bool) context.Context {
	return context.WithValue(ctx, gateKey{}, valid)
}

// CheckGate returns a *FenceError when ctx carries a gate (WithGate) and a
// fence (WithFence) and the fence's token is no longer held; nil otherwise.
func CheckGate(ctx context.Context) error {
	valid, _ := ctx.Value(gateKey{}).(func(int, int64) bool)
	if valid == nil {
		return nil
	}
	f, ok := FenceFrom(ctx)
	if !ok || valid(f.Shard.N(), f.Token) {
		return nil
	}
	return &FenceError{Shard: f.Shard.N(), Token: f.Token}
}
