package lease

import (
	"math/rand/v2"
	"time"
)

// MinTTL is the shortest lease TTL NewManager accepts. LEASE_TTL itself is
// at least 1s (config); shorter TTLs are for tests.
const MinTTL = 30 * time.Millisecond

// maxCallTimeout caps the derived CallTimeout: a healthy Redis answers in
// well under a millisecond, and a shorter bound leaves room for retries
// before the step-down deadline.
const maxCallTimeout = 2 * time.Second

// Timings are the intervals a Manager works with. All derive from TTL
// unless set in Config.
type Timings struct {
	TTL time.Duration // lease lifetime in Redis (LEASE_TTL)
	// RenewEvery is the pause between two renewals of a held lease (TTL/3).
	RenewEvery time.Duration
	// RenewRetry is the pause before retrying a renewal that failed (TTL/12).
	RenewRetry time.Duration
	// StepDownAfter is how long after the send time of the last successful
	// renewal the holder gives up (2*TTL/3): the key cannot expire before TTL.
	StepDownAfter time.Duration
	// RetryEvery is the mean pause between acquisition attempts of a PASSIVE
	// instance (TTL/5, jittered by ±20%); a published release or a
	// lease about to expire wakes it earlier.
	RetryEvery time.Duration
	// CallTimeout bounds every Redis call (min(TTL/6, 2s)); it is shorter
	// than RenewEvery.
	CallTimeout time.Duration
}

// DeriveTimings returns the default timings of a TTL.
func DeriveTimings(ttl time.Duration) Timings {
	return Timings{
		TTL:           ttl,
		RenewEvery:    ttl / 3,
		RenewRetry:    ttl / 12,
		StepDownAfter: ttl * 2 / 3,
		RetryEvery:    ttl / 5,
		CallTimeout:   min(ttl/6, maxCallTimeout),
	}
}

// validate checks the rules TTL > StepDownAfter >= RenewEvery + CallTimeout,
// RenewEvery > CallTimeout > 0, 0 < RenewRetry < StepDownAfter and
// 0 < RetryEvery <= TTL; errors name the Config field.
func (t Timings) validate() error {
	switch {
	case t.TTL < MinTTL:
		return badConfig("TTL", "must be at least %s, got %s", MinTTL, t.TTL)
	case t.CallTimeout <= 0:
		return badConfig("CallTimeout", "must be positive, got %s", t.CallTimeout)
	case t.RenewEvery <= t.CallTimeout:
		return badConfig("RenewEvery", "must be longer than CallTimeout (%s), got %s", t.CallTimeout, t.RenewEvery)
	case t.StepDownAfter >= t.TTL:
		return badConfig("StepDownAfter", "must be shorter than TTL (%s), got %s", t.TTL, t.StepDownAfter)
	case t.StepDownAfter < t.RenewEvery+t.CallTimeout:
		return badConfig("StepDownAfter", "must leave room for one renewal (RenewEvery+CallTimeout = %s), got %s",
			t.RenewEvery+t.CallTimeout, t.StepDownAfter)
	case t.RenewRetry <= 0 || t.RenewRetry >= t.StepDownAfter:
		return badConfig("RenewRetry", "must be positive and shorter than StepDownAfter (%s), got %s", t.StepDownAfter, t.RenewRetry)
	case t.RetryEvery <= 0 || t.RetryEvery > t.TTL:
		return badConfig("RetryEvery", "must be positive and at most TTL (%s), got %s", t.TTL, t.RetryEvery)
	}
	return nil
}

// jittered returns d scaled by a random factor in [0.8, 1.2).
func jittered(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
