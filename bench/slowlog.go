package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

// RedisShare is the time Redis spent inside one command or script (its
// execution, without reading the request and writing the answer), as
// SLOWLOG records it with a threshold of 0.
type RedisShare struct {
	What      string  `json:"what"`  // command, or script (its file under internal/)
	Calls     float64 `json:"calls"` // per update
	PerCall   float64 `json:"per_call_us"`
	PerUpdate float64 `json:"per_update_us"`
	InScript  bool    `json:"in_script"` // run by a script: its time is in the script's too
}

// admin are the bench's own commands between runs (Reset, stats), left out.
var admin = map[string]bool{"flushall": true, "flushdb": true, "bgrewriteaof": true, "info": true, "config": true,
	"slowlog": true, "script": true, "ping": true, "client": true, "hello": true, "select": true, "command": true,
	"dbsize": true, "save": true}

// slowlogMax bounds the entries kept for one profiled run.
const slowlogMax = 2_000_000

// startSlowlog makes Redis record every command (SLOWLOG at 0 µs).
func startSlowlog(ctx context.Context, r *RedisServer) error {
	c := r.Client
	if err := c.ConfigSet(ctx, "slowlog-max-len", "2000000").Err(); err != nil {
		return err
	}
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		return err
	}
	return c.SlowLogReset(ctx).Err()
}

// stopSlowlog reads what was recorded since startSlowlog, puts the
// defaults back and sums the time per command and script, per update.
func stopSlowlog(ctx context.Context, r *RedisServer, repo string, updates int) []RedisShare {
	c := r.Client
	_ = c.ConfigSet(ctx, "slowlog-log-slower-than", "10000").Err()
	logs, err := c.SlowLogGet(ctx, slowlogMax).Result()
	_ = c.ConfigSet(ctx, "slowlog-max-len", "128").Err()
	_ = c.SlowLogReset(ctx).Err()
	if err != nil || updates == 0 {
		return nil
	}
	names := scriptNames(repo)
	type key struct {
		what     string
		inScript bool
	}
	type sum struct{ calls, us int64 }
	by := map[key]*sum{}
	scriptCmds := map[string]bool{"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true}
	for _, l := range logs {
		if len(l.Args) == 0 {
			continue
		}
		cmd := strings.ToLower(l.Args[0])
		if admin[cmd] {
			continue
		}
		what := cmd
		if scriptCmds[cmd] && len(l.Args) > 1 {
			what = scriptName(names, cmd, l.Args[1])
		}
		// a script's commands run on Redis' own script client, which has no address
		k := key{what: what, inScript: l.ClientAddr == "" || strings.HasPrefix(l.ClientAddr, "?")}
		s := by[k]
		if s == nil {
			s = &sum{}
			by[k] = s
		}
		s.calls++
		s.us += l.Duration.Microseconds()
	}
	out := make([]RedisShare, 0, len(by))
	for k, s := range by {
		out = append(out, RedisShare{What: k.what, Calls: float64(s.calls) / float64(updates),
			PerCall: float64(s.us) / float64(s.calls), PerUpdate: float64(s.us) / float64(updates), InScript: k.inScript})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PerUpdate > out[j].PerUpdate })
	return out
}

// scriptName names a script call: its file for EVALSHA of a known SHA1 or
// EVAL of a known source, else the SHA1's start or the source's first line.
func scriptName(names map[string]string, cmd, arg string) string {
	sha := arg
	if cmd == "eval" || cmd == "eval_ro" {
		h := sha1.Sum([]byte(arg))
		sha = hex.EncodeToString(h[:])
	}
	if n, ok := names[sha]; ok {
		return "script " + n
	}
	// SLOWLOG keeps 128 bytes of an argument: EVAL's source is then cut
	if head, _, cut := strings.Cut(arg, "... ("); cut && len(head) >= 64 {
		for src, n := range names {
			if strings.HasPrefix(src, "src:"+head) {
				return "script " + n
			}
		}
	}
	if len(sha) == 40 && (cmd == "evalsha" || cmd == "evalsha_ro") {
		return "script " + sha[:12]
	}
	first, _, _ := strings.Cut(arg, "\n")
	return "script " + strings.TrimSpace(strings.TrimPrefix(first, "--"))
}

// scriptNames maps the SHA1 of every script of the repository (its .lua
// files under internal/, plain and fenced) to the file's path; and "src:"
// and the source, for EVALs whose source SLOWLOG cut.
func scriptNames(repo string) map[string]string {
	names := map[string]string{}
	_ = filepath.WalkDir(filepath.Join(repo, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".lua") {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(repo, path)
		for _, src := range []string{string(body), lease.FencedSource(string(body))} {
			h := sha1.Sum([]byte(src))
			names[hex.EncodeToString(h[:])] = filepath.ToSlash(rel)
			names["src:"+src] = filepath.ToSlash(rel)
		}
		return nil
	})
	return names
}
