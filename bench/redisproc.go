package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is the bench's own redis-server: loopback only, AOF with
// appendfsync everysec (the persistence docs/operations.md asks for),
// noeviction, no RDB snapshots. Automatic AOF rewrites are moved out of
// the way (min size 1 GB); the bench rewrites between runs instead (Reset).
type RedisServer struct {
	Port   int
	Dir    string
	cmd    *exec.Cmd
	Client *redis.Client
}

var redisArgs = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
	"--maxmemory-policy", "noeviction", "--auto-aof-rewrite-min-size", "1gb"}

func startRedis(dir string) (*RedisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := filepath.Join(dir, "redis")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"--port", strconv.Itoa(port), "--dir", d}, redisArgs...)
	cmd := exec.Command("redis-server", args...)
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	r := &RedisServer{Port: port, Dir: d, cmd: cmd,
		Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), PoolSize: 8})}
	deadline := time.Now().Add(10 * time.Second)
	for r.Client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, nil
}

// URL is the redis:// URL of the server.
func (r *RedisServer) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.Port) }

// Addr is host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Stop ends the server.
func (r *RedisServer) Stop() {
	r.Client.Close()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

// Info returns one field of INFO section.
func (r *RedisServer) Info(ctx context.Context, section, field string) string {
	s, err := r.Client.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// UsedMemory is INFO memory used_memory.
func (r *RedisServer) UsedMemory(ctx context.Context) int64 {
	n, _ := strconv.ParseInt(r.Info(ctx, "memory", "used_memory"), 10, 64)
	return n
}

// Commands counts the commands the server ran since the last ResetStats
// (INFO commandstats): scripts is the EVALSHA and EVAL calls, all is
// every command, those the scripts ran included.
func (r *RedisServer) Commands(ctx context.Context) (scripts, all int64) {
	s, err := r.Client.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(s, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		if name == "info" || name == "config|resetstat" {
			continue // the bench's own
		}
		all += n
		if name == "evalsha" || name == "eval" {
			scripts += n
		}
	}
	return scripts, all
}

// ResetStats zeroes the command counts (CONFIG RESETSTAT).
func (r *RedisServer) ResetStats(ctx context.Context) error {
	return r.Client.ConfigResetStat(ctx).Err()
}

// Version is the server's redis_version.
func (r *RedisServer) Version(ctx context.Context) string {
	return r.Info(ctx, "server", "redis_version")
}

// Reset empties the whole server and rewrites the AOF, so that every
// measured run starts from the same state and no rewrite runs during it.
func (r *RedisServer) Reset(ctx context.Context) error {
	if err := r.Client.FlushAll(ctx).Err(); err != nil {
		return err
	}
	return r.Rewrite(ctx)
}

// Rewrite runs BGREWRITEAOF and waits until it is done.
func (r *RedisServer) Rewrite(ctx context.Context) error {
	r.waitRewrite(ctx)
	if err := r.Client.BgRewriteAOF(ctx).Err(); err != nil && !strings.Contains(err.Error(), "already in progress") {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	r.waitRewrite(ctx)
	return nil
}

func (r *RedisServer) waitRewrite(ctx context.Context) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r.Info(ctx, "persistence", "aof_rewrite_in_progress") == "0" &&
			r.Info(ctx, "persistence", "aof_rewrite_scheduled") == "0" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AOFSize is the current AOF size in bytes.
func (r *RedisServer) AOFSize(ctx context.Context) int64 {
	n, _ := strconv.ParseInt(r.Info(ctx, "persistence", "aof_current_size"), 10, 64)
	return n
}

// Unlink deletes every key matching pattern, in batches.
func (r *RedisServer) Unlink(ctx context.Context, pattern string) (int, error) {
	n := 0
	iter := r.Client.Scan(ctx, 0, pattern, 2000).Iterator()
	batch := make([]string, 0, 2000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.Client.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
