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

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func init() { opsCommands["dlq"] = runDLQ }

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

const dlqUsage = "usage: dispatcher dlq list [--json] [--limit N] | dlq replay ID...|--all | dlq drop ID..."

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("%s", dlqUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("dlq "+sub, stderr)
	asJSON := fs.Bool("json", false, "print JSON (list)")
	all := fs.Bool("all", false, "every dead letter of every shard (replay)")
	limit := fs.Int64("limit", 100, "most dead letters listed per shard (list)")
	env, ids, err := openOps(ctx, fs, moveFlagsFirst(args), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	defer env.stop()
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	switch sub {
	case "list":
		if len(ids) > 0 {
			return usagef("dlq list takes no arguments")
		}
		return dlqList(ctx, env, *limit, *asJSON, stdout)
	case "replay":
		if *all == (len(ids) > 0) {
			return usagef("dlq replay takes dead-letter ids or --all (not both)")
		}
		n, err := dlqEach(ctx, env, ids, *all, env.queue.DLQReplay, env.queue.DLQReplayAll)
		fmt.Fprintf(stdout, "replayed %d dead letter(s)\n", n)
		return err
	case "drop":
		if len(ids) == 0 {
			return usagef("dlq drop takes dead-letter ids")
		}
		n, err := dlqEach(ctx, env, ids, false, env.queue.DLQDrop, nil)
		fmt.Fprintf(stdout, "dropped %d dead letter(s)\n", n)
		return err
	}
	return usagef("unknown dlq command %q; %s", sub, dlqUsage)
}

func dlqList(ctx context.Context, env *opsEnv, limit int64, asJSON bool, w io.Writer) error {
	views := []DeadLetterView{}
	for n := 0; n < env.cfg.Shards; n++ {
		dls, err := env.queue.DLQList(ctx, n, limit)
		if err != nil {
			return err
		}
		for _, d := range dls {
			errType, errText := errorTypeOf(d.ErrorType, d.Error)
			views = append(views, DeadLetterView{ID: strconv.Itoa(n) + "/" + d.ID, Shard: n, CID: d.Envelope.CID,
				UpdateID: d.Envelope.UpdateID, UpdateType: d.Envelope.Type, ChatID: d.Envelope.ChatID,
				UserID: d.Envelope.UserID, At: d.At, Reason: d.Reason, ErrorType: errType,
				Error: errText, Deliveries: d.Deliveries, By: d.By})
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
				return total, usagef("dlq: %q is not a dead-letter id (SHARD/ID or ID, as dlq list prints)", raw)
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
			return nil, "", usagef("dlq: %q: shard must be 0..%d", raw, shards-1)
		}
		return []int{n}, raw[i+1:], nil
	}
	all := make([]int, shards)
	for i := range all {
		all[i] = i
	}
	return all, raw, nil
}

// errorTypeOf returns a dead letter's error type from the closed set of
// docs/telemetry.md. A dead letter written by an older release may hold a
// Go type name (*fmt.wrapError): it is shown as HANDLER_ERROR with that name
// kept in front of the text.
func errorTypeOf(typ, text string) (string, string) {
	if typ == "" || telemetry.ErrorType(typ).Known() {
		return typ, text
	}
	return string(telemetry.ErrTypeHandler), "(" + typ + ") " + text
}
