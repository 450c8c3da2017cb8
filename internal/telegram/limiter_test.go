package telegram

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func waits(l *Limiter, chat string, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i], _ = l.reserve(chat, time.Time{})
	}
	return out
}

func TestLimiterBurstThenRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(DefaultLimits(), c.now)
	s := time.Second
	require.Equal(t, []time.Duration{0, 0, 0, s, 2 * s, 3 * s}, waits(l, "42", 6), "3 at once, then 1 a second")
	require.Equal(t, []time.Duration{0, 0, 0}, waits(l, "43", 3), "another chat has its own bucket")

	c.t = c.t.Add(10 * time.Second) // idle: the burst is back
	require.Equal(t, []time.Duration{0, 0, 0, s}, waits(l, "42", 4))
}

func TestLimiterGroupsAreTwentyAMinute(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(DefaultLimits(), c.now)
	w := waits(l, "-100123", 6)
	require.Equal(t, []time.Duration{0, 0, 0, 0, 0, 3 * time.Second}, w, "5 at once, then one each 3 s")
	w = waits(l, `"@channel"`, 6)
	require.Equal(t, 3*time.Second, w[5])
}

func TestLimiterGlobalRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(Limits{Global: 30, GlobalBurst: 30, PerChat: 1, PerChatBurst: 3}, c.now)
	var last time.Duration
	for i := range 40 {
		last, _ = l.reserve(string(rune('A'+i)), time.Time{}) // 40 different chats
	}
	require.Equal(t, 10*(time.Second/30), last, "the 40th message waits for 10 more slots of 1/30 s")
}

func TestLimiterPauseAfter429(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(DefaultLimits(), c.now)
	l.Pause("42", 5*time.Second)
	d, _ := l.reserve("42", time.Time{})
	require.Equal(t, 5*time.Second, d)
	d, _ = l.reserve("7", time.Time{})
	require.Zero(t, d, "other chats go on")
	l.Pause("", 2*time.Second)
	d, _ = l.reserve("8", time.Time{})
	require.Equal(t, 2*time.Second, d, "a pause without a chat holds every call")
}

func TestLimiterDoesNotTakeASlotItCannotUse(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(Limits{PerChat: 1, PerChatBurst: 1}, c.now)
	_, ok := l.reserve("1", time.Time{})
	require.True(t, ok)
	_, ok = l.reserve("1", c.t.Add(500*time.Millisecond))
	require.False(t, ok)
	d, ok := l.reserve("1", time.Time{})
	require.True(t, ok)
	require.Equal(t, time.Second, d, "the refused call took nothing")
}

func TestLimiterForgetsIdleChats(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(DefaultLimits(), c.now)
	for i := range sweepEvery - 1 {
		l.reserve(string(rune(0x4e00+i)), time.Time{})
	}
	require.Len(t, l.chats, sweepEvery-1)
	c.t = c.t.Add(time.Minute)
	l.reserve("last", time.Time{})
	require.Len(t, l.chats, 1)
}

func TestNoLimitsNeverWaits(t *testing.T) {
	l := NewLimiter(Limits{}, nil)
	for range 100 {
		d, ok := l.reserve("1", time.Time{})
		require.True(t, ok)
		require.Zero(t, d)
	}
	var nl *Limiter
	require.NoError(t, nl.Wait(t.Context(), "1"))
}
