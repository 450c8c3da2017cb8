package inspect

import (
	"context"
	"slices"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Chain is the event chain of one cid from the journal, oldest first, and,
// when the cid is a resend (a DUPLICATE_UPDATE naming the original's cid),
// the chain of the original: the resend's own chain is one line, the
// original's says what happened to the update.
type Chain struct {
	CID    string
	Events []telemetry.JournalEvent // empty: unknown, or not kept
	// Note says what the journal did not keep of the chain, "" when
	// nothing is known to be missing (telemetry.JournalNotes).
	Note string
	// Original is the cid of the update this one repeats, "" for no resend.
	Original       string
	OriginalEvents []telemetry.JournalEvent // empty when not kept
	OriginalNote   string
}

// Trace reads the chain of cid (and its original's). An unknown cid is no
// error: Events is empty.
func (in *Inspector) Trace(ctx context.Context, cid string) (Chain, error) {
	return in.trace(ctx, cid, 0)
}

// trace reads a chain, user (when not 0) helping the notes find when the
// update was seen.
func (in *Inspector) trace(ctx context.Context, cid string, user int64) (Chain, error) {
	ch := Chain{CID: cid}
	var err error
	if ch.Events, ch.Note, err = in.events(ctx, cid, user); err != nil || len(ch.Events) == 0 {
		return ch, err
	}
	if ch.Original = telemetry.DuplicateOf(ch.Events); ch.Original == "" {
		return ch, nil
	}
	ch.OriginalEvents, ch.OriginalNote, err = in.events(ctx, ch.Original, user)
	return ch, err
}

// UserChains reads the chains of a user's last n cids (at most what the
// journal keeps of a user), newest first by their first event.
func (in *Inspector) UserChains(ctx context.Context, userID int64, n int) ([]Chain, error) {
	cids, err := in.c.Journal.LastCIDs(ctx, userID, n)
	if err != nil {
		return nil, err
	}
	out := make([]Chain, 0, len(cids))
	for _, cid := range cids {
		ch, err := in.trace(ctx, cid, userID)
		if err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	// the journal orders a user's cids by the second they were seen: its
	// events' microseconds order those of one second
	slices.SortStableFunc(out, func(a, b Chain) int { return started(b).Compare(started(a)) })
	return out, nil
}

// started is when a chain's first event happened (zero without events).
func started(ch Chain) time.Time {
	if len(ch.Events) == 0 {
		return time.Time{}
	}
	return ch.Events[0].Time()
}

// events reads a chain, oldest first, and what the journal says it did
// not keep of it.
func (in *Inspector) events(ctx context.Context, cid string, user int64) ([]telemetry.JournalEvent, string, error) {
	evs, err := in.c.Journal.Chain(ctx, cid)
	if err != nil {
		return nil, "", err
	}
	telemetry.SortEvents(evs)
	note := ""
	if n, ok := in.c.Journal.(telemetry.JournalNotes); ok {
		if note, err = n.NotKept(ctx, cid, user); err != nil {
			return evs, "", err
		}
	}
	return evs, note, nil
}

// DebugUser keeps the user's next chains in full for d, or no longer when
// d < 0 (the journal's debug mode, when it has one:
// telemetry.DebugUserSetter); ok is false when it has none.
func (in *Inspector) DebugUser(ctx context.Context, userID int64, d time.Duration) (until time.Time, ok bool, err error) {
	du, ok := in.c.Journal.(telemetry.DebugUserSetter)
	if !ok {
		return time.Time{}, false, nil
	}
	until, err = du.DebugUser(ctx, userID, d)
	return until, true, err
}
