package inspect

import (
	"context"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Chain is the event chain of one cid from the journal, oldest first, and,
// when the cid is a resend (a DUPLICATE_UPDATE naming the original's cid),
// the chain of the original: the resend's own chain is one line, the
// original's says what happened to the update.
type Chain struct {
	CID    string
	Events []telemetry.JournalEvent // empty: unknown, or older than JOURNAL_TTL
	// Original is the cid of the update this one repeats, "" for no resend.
	Original       string
	OriginalEvents []telemetry.JournalEvent // empty when older than JOURNAL_TTL
}

// Trace reads the chain of cid (and its original's). An unknown cid is no
// error: Events is empty.
func (in *Inspector) Trace(ctx context.Context, cid string) (Chain, error) {
	ch := Chain{CID: cid}
	var err error
	if ch.Events, err = in.events(ctx, cid); err != nil || len(ch.Events) == 0 {
		return ch, err
	}
	if ch.Original = telemetry.DuplicateOf(ch.Events); ch.Original == "" {
		return ch, nil
	}
	ch.OriginalEvents, err = in.events(ctx, ch.Original)
	return ch, err
}

// UserChains reads the chains of a user's last n cids (at most the
// journal's telemetry.JournalMaxCIDs), newest first.
func (in *Inspector) UserChains(ctx context.Context, userID int64, n int) ([]Chain, error) {
	cids, err := in.c.Journal.LastCIDs(ctx, userID, n)
	if err != nil {
		return nil, err
	}
	out := make([]Chain, 0, len(cids))
	for _, cid := range cids {
		ch, err := in.Trace(ctx, cid)
		if err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	return out, nil
}

func (in *Inspector) events(ctx context.Context, cid string) ([]telemetry.JournalEvent, error) {
	evs, err := in.c.Journal.Chain(ctx, cid)
	if err != nil {
		return nil, err
	}
	telemetry.SortEvents(evs)
	return evs, nil
}
