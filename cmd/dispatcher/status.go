package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/inspect"
)

func init() {
	register(&command{name: "status", usage: "status [--json]",
		summary: "cluster state read from Redis: live instances, and per shard the lease holder, token, stream, pending, dead letters",
		about:   opsAbout, config: true,
		setup: func(fs *flag.FlagSet, cfg *config.Config) func(context.Context, *call) error {
			asJSON := fs.Bool("json", false, "print JSON")
			cfg.BindFlags(fs, opsVars...)
			return func(ctx context.Context, c *call) error { return runStatus(ctx, c, *asJSON) }
		}})
}

func runStatus(ctx context.Context, c *call, asJSON bool) error {
	if len(c.args) > 0 {
		return usageErr("status", "status takes no arguments, got %q", c.args[0])
	}
	env, err := openOps(ctx, "status", c)
	if err != nil {
		return err
	}
	defer env.stop()
	stdout := c.stdout
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	st, err := env.inspect.Status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, st)
	}
	return writeStatus(stdout, st, env.noShardsLine())
}

func writeStatus(w io.Writer, st inspect.Status, noShards string) error {
	fmt.Fprintf(w, "namespace %s: %d live instance(s)", st.Namespace, len(st.Instances))
	if st.ShardCount > 0 {
		fmt.Fprintf(w, ", %d shard(s) (recorded in Redis)", st.ShardCount)
	}
	fmt.Fprint(w, "\n")
	writeDeployment(w, st)
	fmt.Fprint(w, "\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tROLE\tSHARDS\tMODE\tBOT\tADDR\tVERSION\tUP\tHEARTBEAT TTL")
	for _, in := range st.Instances {
		shards := make([]string, len(in.Shards))
		for i, s := range in.Shards {
			shards[i] = fmt.Sprint(s)
		}
		up := "-"
		if !in.Started.IsZero() {
			up = time.Since(in.Started).Truncate(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, dash(in.Role), dash(strings.Join(shards, ",")),
			dash(in.Mode), dash(in.Bot), dash(in.Addr), dash(in.Version), up, in.TTL.Truncate(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tNODE\tHOLDER\tTOKEN\tTTL LEFT\tSTREAM\tPENDING\tOLDEST PENDING\tDEAD LETTERS")
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
		node := dash(s.Node)
		if s.Slot != nil {
			node += fmt.Sprintf(" (slot %d)", *s.Slot)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", s.Shard, node, holder, token, ttl, s.Length, s.Pending, oldest, s.DeadLetters)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.ShardCount == 0 {
		fmt.Fprintln(w, noShards)
	}
	for _, o := range st.Outside {
		fmt.Fprintf(w, "WARNING: shard %d is outside the shard count but its stream holds %d update(s) that no instance reads\n",
			o.Shard, o.Length)
	}
	writePoll(w, st.Poll)
	writeWebhookCheck(w, st.Webhook)
	fmt.Fprintln(w)
	return writeJournalStatus(w, st)
}

// writeJournalStatus writes the journal's line: memory against budget,
// the oldest chain kept (and the oldest failing one), what the budget
// evicted and what could not be written.
func writeJournalStatus(w io.Writer, st inspect.Status) error {
	if st.Journal == nil {
		_, err := fmt.Fprintf(w, "journal: unavailable (%s)\n", st.JournalError)
		return err
	}
	j := st.Journal
	pct := 0.0
	if j.Budget > 0 {
		pct = 100 * float64(j.Used) / float64(j.Budget)
	}
	age := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return time.Since(t).Truncate(time.Second).String() + " ago"
	}
	evicted := "none"
	if j.Evicted > 0 {
		evicted = fmt.Sprintf("%d segments; chains that went well are evicted after about %s", j.Evicted, j.KeptFor.Truncate(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNAL MEMORY\tBUDGET\tOLDEST CHAIN\tOLDEST FAILING CHAIN\tEVICTED BY BUDGET\tNOT WRITTEN\tDEBUG USERS")
	fmt.Fprintf(tw, "%s (%.0f%%)\t%s\t%s\t%s\t%s\t%d events\t%d\n", humanBytes(j.Used), pct, humanBytes(j.Budget), age(j.OldestChain),
		age(j.OldestFailing), evicted, j.NotWritten, j.DebugUsers)
	return tw.Flush()
}

// humanBytes writes a size in KiB, MiB or GiB, one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
