package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func init() {
	register(&command{name: "trace", usage: "trace CID [--json]",
		summary: "the event chain of one correlation id (cid), oldest first, from the event journal",
		about: `The cid is in the webhook's answer ({"ok":true,"cid":"..."}), in every log line of the update,
and in the bot's /debug panel. The chain of a resend (DUPLICATE_UPDATE) is followed by the chain of
the original it repeats.
` + opsAbout,
		config: true,
		setup: func(fs *flag.FlagSet, cfg *config.Config) func(context.Context, *call) error {
			asJSON := fs.Bool("json", false, "print one JSON object per event, keys sorted")
			cfg.BindFlags(fs, opsVars...)
			return func(ctx context.Context, c *call) error { return runTrace(ctx, c, *asJSON) }
		}})
}

// runTrace prints the event chain of one cid, oldest first.
func runTrace(ctx context.Context, c *call, asJSON bool) error {
	if len(c.args) != 1 {
		return usageErr("trace", "trace takes one CID (8 hex characters), got %d arguments", len(c.args))
	}
	cid := c.args[0]
	if !telemetry.ValidCID(cid) {
		return usageErr("trace", "trace: %q is not a cid (8 lowercase hex characters)", cid)
	}
	env, err := openOps(ctx, "trace", c)
	if err != nil {
		return err
	}
	defer env.stop()
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	return writeChains(ctx, env, cid, asJSON, c.stdout, c.stderr)
}

// writeChains writes the chain of cid and, when cid is a resend
// (DUPLICATE_UPDATE naming the original's cid), the original's chain after
// it: the resend's own chain is one line, the original's says what happened
// to the update.
func writeChains(ctx context.Context, env *opsEnv, cid string, asJSON bool, w, stderr io.Writer) error {
	ch, err := env.inspect.Trace(ctx, cid)
	if err != nil {
		return err
	}
	if len(ch.Events) == 0 {
		return fmt.Errorf("trace: no events for cid %s: %s", cid, ch.Note)
	}
	if err := telemetry.WriteTrace(w, ch.Events, asJSON); err != nil {
		return err
	}
	writeNote(w, stderr, ch.Note, asJSON)
	if ch.Original == "" {
		return nil
	}
	if !asJSON {
		fmt.Fprintf(w, "\ncid %s is a resend of an update first ingested as cid %s; the original's chain:\n", cid, ch.Original)
		if len(ch.OriginalEvents) == 0 {
			fmt.Fprintf(w, "no events for cid %s: %s\n", ch.Original, ch.OriginalNote)
			return nil
		}
	}
	if len(ch.OriginalEvents) == 0 {
		return nil
	}
	if err := telemetry.WriteTrace(w, ch.OriginalEvents, asJSON); err != nil {
		return err
	}
	writeNote(w, stderr, ch.OriginalNote, asJSON)
	return nil
}

// writeNote says what the journal did not keep of a chain it shows: a
// line under the table, or on stderr with --json (stdout stays one JSON
// object a line).
func writeNote(w, stderr io.Writer, note string, asJSON bool) {
	switch {
	case note == "":
	case asJSON:
		fmt.Fprintln(stderr, "trace: "+note)
	default:
		fmt.Fprintln(w, "note: "+note)
	}
}
