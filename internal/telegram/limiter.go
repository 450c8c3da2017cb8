package telegram

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Limits are the message rates the limiter keeps to. A zero rate disables
// that bucket; the zero Limits disables the limiter.
type Limits struct {
	Global       float64 // messages a second over all chats (Telegram: about 30)
	GlobalBurst  int     // messages that may go at once over all chats
	PerChat      float64 // messages a second to one private chat (Telegram: about 1)
	PerChatBurst int     // short burst allowed to one private chat
	Group        float64 // messages a second to one group or channel (Telegram: 20 a minute)
	GroupBurst   int     // short burst allowed to one group or channel
}

// DefaultLimits returns Telegram's published limits with short bursts.
func DefaultLimits() Limits {
	return Limits{Global: 30, GlobalBurst: 30, PerChat: 1, PerChatBurst: 3, Group: 20.0 / 60, GroupBurst: 5}
}

// Limiter spaces message calls with one GCRA bucket (a token bucket that
// keeps one timestamp) overall and one per chat. Reservations are made in
// call order, so callers of one chat are served first come, first served.
// It is safe for concurrent use.
type Limiter struct {
	lim Limits
	now func() time.Time

	mu     sync.Mutex
	global bucket
	chats  map[string]*bucket
	calls  int
}

// bucket is one GCRA bucket: tat is the theoretical arrival time of the
// next call once the burst is spent.
type bucket struct{ tat time.Time }

// NewLimiter returns a limiter for lim; now is the clock (nil: time.Now).
func NewLimiter(lim Limits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{lim: lim, now: now, chats: map[string]*bucket{}}
}

// sweepEvery is how many reservations pass between sweeps of idle chats.
const sweepEvery = 1024

func interval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// next returns when a call at or after now may go, and the bucket's tat
// after it. A zero interval never delays.
func (b *bucket) next(now time.Time, iv time.Duration, burst int) (at, tat time.Time) {
	if iv <= 0 {
		return now, b.tat
	}
	if burst < 1 {
		burst = 1
	}
	t := b.tat
	if t.Before(now) {
		t = now
	}
	at = t.Add(-time.Duration(burst-1) * iv)
	if at.Before(now) {
		at = now
	}
	return at, t.Add(iv)
}

// chatLimits returns the rate and burst for one chat key: a negative id or
// an @username is a group or channel.
func (l *Limiter) chatLimits(chat string) (time.Duration, int) {
	if strings.HasPrefix(chat, "-") || strings.HasPrefix(chat, "@") || strings.HasPrefix(chat, `"`) {
		return interval(l.lim.Group), l.lim.GroupBurst
	}
	return interval(l.lim.PerChat), l.lim.PerChatBurst
}

// reserve computes how long a call to chat ("" for none) must wait: the
// later of its chat's slot and the global slot, both reserved now (as
// x/time/rate does for several limiters). It takes the slots only when the
// call can go by deadline (zero: no deadline).
func (l *Limiter) reserve(chat string, deadline time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	at, gTAT := l.global.next(now, interval(l.lim.Global), l.lim.GlobalBurst)
	var cb *bucket
	var cTAT time.Time
	if chat != "" {
		if iv, burst := l.chatLimits(chat); iv > 0 {
			if cb = l.chats[chat]; cb == nil {
				cb = &bucket{}
			}
			var cAt time.Time
			cAt, cTAT = cb.next(now, iv, burst)
			if cAt.After(at) {
				at = cAt
			}
		}
	}
	if !deadline.IsZero() && at.After(deadline) {
		return at.Sub(now), false
	}
	l.global.tat = gTAT
	if cb != nil {
		cb.tat = cTAT
		l.chats[chat] = cb
	}
	l.calls++
	if l.calls%sweepEvery == 0 {
		for k, b := range l.chats {
			if b.tat.Before(now) {
				delete(l.chats, k)
			}
		}
	}
	return at.Sub(now), true
}

// Wait blocks until a message to chat ("" for a call that names none) may
// go. It returns an error matching ErrRateLimited (and saying how long is
// left), without taking a slot, when that would be after ctx's deadline,
// and ctx's error when ctx ends while waiting.
func (l *Limiter) Wait(ctx context.Context, chat string) error {
	if l == nil {
		return nil
	}
	deadline, _ := ctx.Deadline()
	d, ok := l.reserve(chat, deadline)
	if !ok {
		return &limitedError{wait: d}
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause holds back calls to chat (every call when chat is "") for d, as
// Telegram asked with a 429's retry_after. The caller records every 429,
// also one whose wait it does not make itself (beyond its budget).
func (l *Limiter) Pause(chat string, d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	iv, burst := interval(l.lim.Global), l.lim.GlobalBurst
	b := &l.global
	if chat != "" {
		iv, burst = l.chatLimits(chat)
		if iv <= 0 {
			return
		}
		if b = l.chats[chat]; b == nil {
			b = &bucket{}
			l.chats[chat] = b
		}
	}
	if burst < 1 {
		burst = 1
	}
	// a call may go when tat-(burst-1)*iv >= now+d
	until := now.Add(d).Add(time.Duration(burst-1) * iv)
	if b.tat.Before(until) {
		b.tat = until
	}
}
