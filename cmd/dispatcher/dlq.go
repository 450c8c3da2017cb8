package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func init() {
	register(&command{name: "dlq", usage: "dlq list [--json] [--limit N]\ndlq replay ID...|--all\ndlq drop ID...",
		summary: "list dead letters, put them back on their stream (replay) or give them up (drop)",
		about: `An ID is SHARD/STREAM-ID as dlq list prints it (a bare STREAM-ID is looked for on every shard).
A replayed update keeps its cid and starts its delivery count afresh.
` + opsAbout,
		config: true,
		setup: func(fs *flag.FlagSet, cfg *config.Config) func(context.Context, *call) error {
			o := dlqOpts{}
			fs.BoolVar(&o.json, "json", false, "print JSON (list)")
			fs.BoolVar(&o.all, "all", false, "every dead letter of every shard (replay)")
			fs.Int64Var(&o.limit, "limit", 100, "most dead letters listed per shard (list)")
			cfg.BindFlags(fs, opsVars...)
			return func(ctx context.Context, c *call) error { return runDLQ(ctx, c, o) }
		}})
}

// dlqOpts are the flags of dlq.
type dlqOpts struct {
	json, all bool
	limit     int64
}

func runDLQ(ctx context.Context, c *call, o dlqOpts) error {
	if len(c.args) == 0 {
		return usageErr("dlq", "dlq needs a subcommand: list, replay or drop")
	}
	sub, ids := c.args[0], c.args[1:]
	switch {
	case sub != "list" && sub != "replay" && sub != "drop":
		return usageErr("dlq", "unknown dlq subcommand %q (list, replay or drop)", sub)
	case sub == "list" && len(ids) > 0:
		return usageErr("dlq", "dlq list takes no arguments, got %q", ids[0])
	case sub == "replay" && o.all == (len(ids) > 0):
		return usageErr("dlq", "dlq replay takes dead-letter ids or --all (not both)")
	case sub == "drop" && len(ids) == 0:
		return usageErr("dlq", "dlq drop takes dead-letter ids")
	}
	env, err := openOps(ctx, "dlq", c)
	if err != nil {
		return err
	}
	defer env.stop()
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	stdout := c.stdout
	if env.shards == 0 && !o.json {
		fmt.Fprintln(stdout, env.noShardsLine())
	}
	switch sub {
	case "list":
		return dlqList(ctx, env, o.limit, o.json, stdout)
	case "replay":
		var n int
		if o.all {
			n, err = env.inspect.ReplayAll(ctx)
		} else {
			n, err = env.inspect.Replay(ctx, ids...)
		}
		fmt.Fprintf(stdout, "replayed %d dead letter(s)\n", n)
		return dlqErr(err)
	}
	n, err := env.inspect.Drop(ctx, ids...)
	fmt.Fprintf(stdout, "dropped %d dead letter(s)\n", n)
	return dlqErr(err)
}

// dlqErr words an id that replay or drop could not use: a malformed one
// is a usage error (exit 2), one that is no dead letter a failure.
func dlqErr(err error) error {
	var ie *inspect.IDError
	switch {
	case !errors.As(err, &ie):
		return err
	case errors.Is(err, inspect.ErrBadID):
		return usageErr("dlq", "dlq: %s", ie.Reason)
	}
	return fmt.Errorf("dlq: %s", ie.Reason)
}

func dlqList(ctx context.Context, env *opsEnv, limit int64, asJSON bool, w io.Writer) error {
	views, err := env.inspect.DeadLetters(ctx, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, views)
	}
	if len(views) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCID\tUPDATE\tTYPE\tCHAT\tAT\tREASON\tDELIVERIES\tLAST ERROR")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\n", v.ID, v.CID, v.UpdateID, v.UpdateType, v.ChatID,
			v.At.UTC().Format(time.RFC3339), v.Reason, v.Deliveries, telemetry.Shorten(strings.TrimSpace(v.ErrorType+" "+v.Error)))
	}
	return tw.Flush()
}
