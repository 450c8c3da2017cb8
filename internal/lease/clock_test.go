package lease

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock that moves only when the test advances it.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d and fires every waiter that is due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// AdvanceTo moves the clock to t (never backwards).
func (c *manualClock) AdvanceTo(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// pending returns the times of the waiters not yet fired.
func (c *manualClock) pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.waiters))
	for _, w := range c.waiters {
		out = append(out, w.at)
	}
	return out
}

// waitWaiter waits (real time, bounded) until someone waits for a time
// in [from, to], and returns it: the loop under test is then blocked on
// the clock and the test may advance it.
func (c *manualClock) waitWaiter(t *testing.T, from, to time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if i := slices.IndexFunc(c.pending(), func(at time.Time) bool { return !at.Before(from) && !at.After(to) }); i >= 0 {
			return c.pending()[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no waiter in [%s, %s]; pending %v (now %s)", from.Format("15:04:05.000"), to.Format("15:04:05.000"),
				c.pending(), c.Now().Format("15:04:05.000"))
		}
		time.Sleep(time.Millisecond) // poll interval of a bounded wait
	}
}
