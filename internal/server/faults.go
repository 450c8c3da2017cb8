package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Faults is the fault injection of DISPATCHER_FAULTS, for the multi-process
// and chaos tests only: it wraps the bot so that chosen updates panic or
// fail, or every dispatch is slowed. The instance logs a warning at start
// when it is set. Grammar (clauses separated by ';'):
//
//	panic=ID[,ID...]   the handler panics on these update_ids
//	fail=ID[,ID...]    the handler returns an error on these update_ids
//	sleep=DURATION     every dispatch first waits DURATION (or its deadline)
//	pollstall=DURATION with INGEST=poll, the poller waits DURATION after the
//	                   first update of each batch of two or more (mid-batch)
//	hang=DURATION      every routed handler (inside the router, as the
//	                   bot's own handlers run) first waits DURATION
//	                   ignoring its context, then goes on: a runaway handler
//
// Example: DISPATCHER_FAULTS='panic=700000001;sleep=5ms'.
type Faults struct {
	Panic map[int64]bool
	Fail  map[int64]bool
	Sleep time.Duration
	// PollStall is the poller's pause mid-batch (poll.Config.StallMidBatch).
	PollStall time.Duration
	// Hang is the routed handlers' pause that ignores their context.
	Hang time.Duration
}

// ErrInjected is the error of a fail= fault.
var ErrInjected = errors.New("server: injected failure (DISPATCHER_FAULTS)")

// ParseFaults parses DISPATCHER_FAULTS.
func ParseFaults(s string) (Faults, error) {
	f := Faults{Panic: map[int64]bool{}, Fail: map[int64]bool{}}
	for _, clause := range strings.Split(s, ";") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		k, v, ok := strings.Cut(clause, "=")
		if !ok {
			return f, fmt.Errorf("%q is not key=value", clause)
		}
		switch k {
		case "panic", "fail":
			set := f.Panic
			if k == "fail" {
				set = f.Fail
			}
			for _, id := range strings.Split(v, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
				if err != nil {
					return f, fmt.Errorf("%s: %q is not an update_id", k, id)
				}
				set[n] = true
			}
		case "sleep", "pollstall", "hang":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return f, fmt.Errorf("%s: %q is not a duration", k, v)
			}
			switch k {
			case "sleep":
				f.Sleep = d
			case "pollstall":
				f.PollStall = d
			default:
				f.Hang = d
			}
		default:
			return f, fmt.Errorf("unknown fault %q", k)
		}
	}
	return f, nil
}

// WrapRoutes returns the route wrapper of the hang= fault, nil without it.
func (f Faults) WrapRoutes() func(router.HandlerFunc) router.HandlerFunc {
	if f.Hang <= 0 {
		return nil
	}
	return func(h router.HandlerFunc) router.HandlerFunc {
		return func(c *router.Ctx) error {
			time.Sleep(f.Hang) // ignores its context on purpose: the runaway handler under test
			return h(c)
		}
	}
}

// Wrap returns h with the faults applied (but hang=, see WrapRoutes).
func (f Faults) Wrap(h worker.Handler) worker.Handler {
	return worker.HandlerFunc(func(ctx context.Context, u *update.Update) error {
		id := u.UpdateID
		if f.Panic[id] {
			panic(fmt.Sprintf("injected panic on update %d (DISPATCHER_FAULTS)", id))
		}
		if f.Fail[id] {
			return ErrInjected
		}
		if f.Sleep > 0 {
			t := time.NewTimer(f.Sleep)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		return h.Handle(ctx, u)
	})
}
