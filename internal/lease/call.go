package lease

import (
	"context"
	"fmt"
	"time"
)

// bounded runs f with a context that expires after d and returns when f
// returns or d has passed, whichever comes first.
//
// go-redis applies a context's deadline to socket reads only with
// Options.ContextTimeoutEnabled; otherwise a read waits for ReadTimeout
// (3s by default), longer than a renew interval. Running f in its own
// goroutine keeps the bound whatever the client's options. A call abandoned
// at its bound keeps its goroutine until the client gives up on it
// (at once with ContextTimeoutEnabled, which the dispatcher's clients set);
// its result is discarded.
func bounded(parent context.Context, d time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, d)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- f(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // finished at the same moment: keep its answer
			return err
		default:
		}
		return fmt.Errorf("%w (%s): %w", ErrTimeout, d, ctx.Err())
	}
}

// Bounded runs f under a context that ends after d (or with parent) and
// returns ErrTimeout (wrapped) when f has not returned by then: every Redis
// call of the lease and membership loops goes through it.
func Bounded(parent context.Context, d time.Duration, f func(ctx context.Context) error) error {
	return bounded(parent, d, f)
}

// MaxCallTimeout caps the bound of one Redis call of the lease and
// membership loops.
const MaxCallTimeout = maxCallTimeout
