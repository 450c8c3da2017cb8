package poll

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait after failures in a row: MinBackoff, doubled per
// failure up to MaxBackoff, each jittered by ±20%. Owned by one poll loop.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (p *Poller) backoff() *backoff {
	return &backoff{min: p.cfg.MinBackoff, max: p.cfg.MaxBackoff}
}

// next returns the wait before the next try and doubles the one after.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := time.Duration(float64(b.cur) * (0.8 + 0.4*rand.Float64()))
	b.cur = min(b.cur*2, b.max)
	return d
}

// reset starts again from MinBackoff after a success.
func (b *backoff) reset() { b.cur = 0 }
