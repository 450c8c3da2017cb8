package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
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

// DeadLetterView is one dead letter as `dlq list --json` prints it. Its ID
// is SHARD/STREAM-ID, the form replay and drop take.
type DeadLetterView struct {
	ID         string    `json:"id"`
	Shard      int       `json:"shard"`
	CID        string    `json:"cid"`
	UpdateID   int64     `json:"update_id"`
	UpdateType string    `json:"update_type"`
	ChatID     int64     `json:"chat_id,omitempty"`
	UserID     int64     `json:"user_id,omitempty"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
	ErrorType  string    `json:"error_type,omitempty"`
	Error      string    `json:"error,omitempty"`
	Deliveries int64     `json:"deliveries"`
	By         string    `json:"by,omitempty"`
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
	switch sub {
	case "list":
		return dlqList(ctx, env, o.limit, o.json, stdout)
	case "replay":
		n, err := dlqEach(ctx, env, ids, o.all, env.queue.DLQReplay, env.queue.DLQReplayAll)
		fmt.Fprintf(stdout, "replayed %d dead letter(s)\n", n)
		return err
	}
	n, err := dlqEach(ctx, env, ids, false, env.queue.DLQDrop, nil)
	fmt.Fprintf(stdout, "dropped %d dead letter(s)\n", n)
	return err
}

func dlqList(ctx context.Context, env *opsEnv, limit int64, asJSON bool, w io.Writer) error {
	views := []DeadLetterView{}
	for n := 0; n < env.cfg.Shards; n++ {
		dls, err := env.queue.DLQList(ctx, n, limit)
		if err != nil {
			return err
		}
		for _, d := range dls {
			views = append(views, DeadLetterView{ID: strconv.Itoa(n) + "/" + d.ID, Shard: n, CID: d.Envelope.CID,
				UpdateID: d.Envelope.UpdateID, UpdateType: d.Envelope.Type, ChatID: d.Envelope.ChatID,
				UserID: d.Envelope.UserID, At: d.At, Reason: d.Reason, ErrorType: d.ErrorType,
				Error: d.Error, Deliveries: d.Deliveries, By: d.By})
		}
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

type dlqOp func(ctx context.Context, shard int, ids ...string) (int, error)

// dlqEach applies op to ids (SHARD/ID, or a bare ID tried on every shard),
// or allOp to every shard.
func dlqEach(ctx context.Context, env *opsEnv, ids []string, all bool, op dlqOp, allOp func(context.Context, int) (int, error)) (int, error) {
	total := 0
	if all {
		for n := 0; n < env.cfg.Shards; n++ {
			k, err := allOp(ctx, n)
			total += k
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	for _, raw := range ids {
		shards, id, err := parseDLQID(raw, env.cfg.Shards)
		if err != nil {
			return total, err
		}
		found := 0
		for _, n := range shards {
			k, err := op(ctx, n, id)
			if errors.Is(err, queue.ErrBadID) {
				return total, usageErr("dlq", "dlq: %q is not a dead-letter id (SHARD/ID or ID, as dlq list prints)", raw)
			}
			if err != nil {
				return total, err
			}
			found += k
		}
		if found == 0 {
			return total, fmt.Errorf("dlq: no dead letter %s", raw)
		}
		total += found
	}
	return total, nil
}

func parseDLQID(raw string, shards int) ([]int, string, error) {
	if i := strings.IndexByte(raw, '/'); i >= 0 {
		n, err := strconv.Atoi(raw[:i])
		if err != nil || n < 0 || n >= shards {
			return nil, "", usageErr("dlq", "dlq: %q: shard must be 0..%d", raw, shards-1)
		}
		return []int{n}, raw[i+1:], nil
	}
	all := make([]int, shards)
	for i := range all {
		all[i] = i
	}
	return all, raw, nil
}
