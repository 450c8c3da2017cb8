package lease

import "time"

// Clock is the time source of the step-down and retry rules. Tests inject a
// manual clock; nil in Config means the real clock. Redis call timeouts
// always use real time.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
