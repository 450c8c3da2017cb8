package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
)

func init() { opsCommands["status"] = runStatus }

// Status is what `dispatcher status --json` prints.
type Status struct {
	Namespace string               `json:"namespace"`
	Instances []lease.InstanceInfo `json:"instances"`
	Shards    []ShardStatus        `json:"shards"`
}

// ShardStatus is one shard in Status.
type ShardStatus struct {
	Shard            int     `json:"shard"`
	Holder           string  `json:"holder"` // "" when no instance is ACTIVE
	Token            int64   `json:"token"`
	TTLSeconds       float64 `json:"ttl_seconds"`
	Length           int64   `json:"stream_length"`
	Pending          int64   `json:"pending"`
	OldestPendingSec float64 `json:"oldest_pending_seconds"`
	DeadLetters      int64   `json:"dead_letters"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	env, rest, err := openOps(ctx, fs, moveFlagsFirst(args), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	defer env.stop()
	if len(rest) > 0 {
		return usagef("status takes no arguments")
	}
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	st, err := readStatus(ctx, env)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	return writeStatus(stdout, st)
}

func readStatus(ctx context.Context, env *opsEnv) (Status, error) {
	st := Status{Namespace: env.cfg.Namespace, Instances: []lease.InstanceInfo{}}
	insts, err := lease.ListInstances(ctx, env.redis, env.keys)
	if err != nil {
		return st, err
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	st.Instances = append(st.Instances, insts...)
	for n := 0; n < env.cfg.Shards; n++ {
		li, err := lease.Inspect(ctx, env.redis, env.keys, n)
		if err != nil {
			return st, err
		}
		qs, err := env.queue.Stats(ctx, n)
		if err != nil {
			return st, err
		}
		st.Shards = append(st.Shards, shardStatus(li, qs))
	}
	return st, nil
}

func shardStatus(li lease.LeaseInfo, qs queue.ShardStats) ShardStatus {
	s := ShardStatus{Shard: li.Shard, Length: qs.Length, Pending: qs.Pending,
		OldestPendingSec: qs.OldestPendingAge.Seconds(), DeadLetters: qs.DeadLetters}
	if li.Held {
		s.Holder, s.Token, s.TTLSeconds = li.Holder, li.Token, li.TTL.Seconds()
	}
	return s
}

func writeStatus(w io.Writer, st Status) error {
	fmt.Fprintf(w, "namespace %s: %d live instance(s)\n\n", st.Namespace, len(st.Instances))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tROLE\tSHARDS\tADDR\tVERSION\tUP\tHEARTBEAT TTL")
	for _, in := range st.Instances {
		shards := make([]string, len(in.Shards))
		for i, s := range in.Shards {
			shards[i] = fmt.Sprint(s)
		}
		up := "-"
		if !in.Started.IsZero() {
			up = time.Since(in.Started).Truncate(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, dash(in.Role), dash(strings.Join(shards, ",")),
			dash(in.Addr), dash(in.Version), up, in.TTL.Truncate(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tHOLDER\tTOKEN\tTTL LEFT\tSTREAM\tPENDING\tOLDEST PENDING\tDEAD LETTERS")
	for _, s := range st.Shards {
		holder, token, ttl := "(none: no ACTIVE instance)", "-", "-"
		if s.Holder != "" {
			holder, token = s.Holder, fmt.Sprint(s.Token)
			ttl = (time.Duration(s.TTLSeconds * float64(time.Second))).Truncate(time.Millisecond).String()
		}
		oldest := "-"
		if s.Pending > 0 {
			oldest = (time.Duration(s.OldestPendingSec * float64(time.Second))).Truncate(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", s.Shard, holder, token, ttl, s.Length, s.Pending, oldest, s.DeadLetters)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
