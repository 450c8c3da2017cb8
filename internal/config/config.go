// Package config holds every setting of a dispatcher instance (CONTRACT §2).
//
// A Config is built in three layers: Default(), then the environment
// (FromEnv), then the flags of `dispatcher serve` (BindFlags), flag wins.
// Validate() checks the result; its errors name the variable and say why, in
// the form `LEASE_TTL: must be at least 1s, got 200ms`, so the command line can
// print them as one line and exit 2. Nothing in this package panics on bad
// input.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
)

// Config is the whole configuration of one instance. Each field names its
// environment variable and documents its default.
type Config struct {
	// BotToken (BOT_TOKEN, default none) is the Telegram bot token. Required
	// unless sandbox mode. Never printed, logged or put in errors.
	BotToken string
	// TelegramAPIURL (TELEGRAM_API_URL, default https://api.telegram.org) is the
	// Bot API base URL.
	TelegramAPIURL string
	// Sandbox (SANDBOX, default true when BOT_TOKEN is empty) serves a built-in
	// fake Bot API that records what the bot sends.
	Sandbox bool
	// SandboxImplied is true when Sandbox was not set but follows from an
	// empty BOT_TOKEN (FromEnv): with a shared Redis, serve refuses that
	// (CheckSandbox), so that a forgotten BOT_TOKEN never puts a sandbox
	// instance into a real deployment.
	SandboxImplied bool
	// WebhookSecret (WEBHOOK_SECRET, default none) is compared in constant time
	// with the header X-Telegram-Bot-Api-Secret-Token.
	WebhookSecret string
	// InsecureWebhook (INSECURE_WEBHOOK, default false) allows a webhook
	// without a secret outside sandbox mode.
	InsecureWebhook bool
	// AllowInsecureAdmin (ALLOW_INSECURE_ADMIN, default false) serves /debug
	// although the webhook runs without a secret outside sandbox mode, where
	// anyone who reaches it can post an update in an admin's name.
	AllowInsecureAdmin bool
	// ListenAddr (LISTEN_ADDR, default :8080) serves the webhook, and the
	// ops endpoints too unless OpsListenAddr is set.
	ListenAddr string
	// OpsListenAddr (OPS_LISTEN_ADDR, default none: LISTEN_ADDR serves them
	// as before) serves the ops endpoints (/healthz, /readyz, /metrics,
	// /ops) and, in sandbox mode, the sandbox routes on a second address,
	// so only the webhook (and /healthz) is on LISTEN_ADDR.
	OpsListenAddr string
	// WebhookPath (WEBHOOK_PATH, default /webhook).
	WebhookPath string
	// WebhookURL (WEBHOOK_URL, default none) is the public https:// URL
	// Telegram delivers updates to, as given to `dispatcher webhook set`
	// (which takes it when no URL argument is given). The webhook check
	// compares it with getWebhookInfo's url; unset, any URL on WEBHOOK_PATH
	// matches.
	WebhookURL string
	// WebhookCheckInterval (WEBHOOK_CHECK_INTERVAL, default 1m; 0 turns the
	// check off) is how often the holder of shard 0 asks Telegram
	// getWebhookInfo (INGEST=webhook, not in sandbox mode).
	WebhookCheckInterval time.Duration
	// Ingest (INGEST, default webhook) is how updates come in: webhook
	// (Telegram POSTs to WEBHOOK_PATH) or poll (the holder of the poll lease
	// calls getUpdates; the webhook path answers 404).
	Ingest string
	// PollTimeout (POLL_TIMEOUT, default 30s) is getUpdates' long-poll
	// timeout with INGEST=poll, in whole seconds, 0s to 5m (0: short polls).
	PollTimeout time.Duration
	// RedisURL (REDIS_URL, default none: embedded in-process Redis).
	RedisURL string
	// RedisClusterAddrs (REDIS_CLUSTER_ADDRS, default none) selects Redis
	// Cluster.
	RedisClusterAddrs []string
	// RedisSentinelAddrs and RedisSentinelMaster (REDIS_SENTINEL_ADDRS,
	// REDIS_SENTINEL_MASTER, default none) select Sentinel failover.
	RedisSentinelAddrs  []string
	RedisSentinelMaster string
	// RedisUsername and RedisPassword (REDIS_USERNAME, REDIS_PASSWORD,
	// default none) authenticate to Redis (an ACL user, or the default
	// user's requirepass) in every topology; with REDIS_URL they fill in
	// what the URL leaves out.
	RedisUsername string
	RedisPassword string
	// RedisSentinelPassword (REDIS_SENTINEL_PASSWORD, default none)
	// authenticates to the Sentinels themselves.
	RedisSentinelPassword string
	// RedisTLS (REDIS_TLS, default false, true for a rediss:// URL) connects
	// to Redis (and the Sentinels) over TLS in every topology.
	RedisTLS bool
	// RedisTLSCAFile (REDIS_TLS_CA_FILE, default none: the system's roots)
	// is a PEM file of the CAs that sign the Redis servers' certificates.
	RedisTLSCAFile string
	// RedisWaitReplicas (REDIS_WAIT_REPLICAS, default 0) is how many replicas
	// must acknowledge an update's append before the webhook answers 200
	// (Redis WAIT); 0 trusts the master alone.
	RedisWaitReplicas int
	// RedisWaitTimeout (REDIS_WAIT_TIMEOUT, default 500ms) bounds that wait;
	// past it the webhook answers 503 and Telegram resends.
	RedisWaitTimeout time.Duration
	// StreamFormat (STREAM_FORMAT, default auto) is how stream entries are
	// written: auto writes the newest format once every live instance says
	// it reads it (queue.FormatPacked), fields the one every version reads
	// (queue.FormatFields).
	StreamFormat string
	// Namespace (REDIS_NAMESPACE, default tgd) prefixes every key.
	Namespace string
	// InstanceID (INSTANCE_ID, default hostname-pid) must be unique among live
	// instances.
	InstanceID string
	// Shards (SHARDS, default 1) is the number of stream shards and leases.
	Shards int
	// Workers (WORKERS, default 16) is the number of concurrent dispatches.
	Workers int
	// LeaseTTL (LEASE_TTL, default 10s) is the lease lifetime.
	LeaseTTL time.Duration
	// HandlerTimeout (HANDLER_TIMEOUT, default 30s) is one dispatch's deadline.
	HandlerTimeout time.Duration
	// ShutdownTimeout (SHUTDOWN_TIMEOUT, default 20s) is the drain time.
	ShutdownTimeout time.Duration
	// MaxDeliveries (MAX_DELIVERIES, default 5) before dead-lettering.
	MaxDeliveries int
	// MaxBacklog (MAX_BACKLOG, default 100000) per shard.
	MaxBacklog int
	// DedupeWindow (DEDUPE_WINDOW, default 1h) remembers update ids.
	DedupeWindow time.Duration
	// LogFormat (LOG_FORMAT, default json) is json or kv.
	LogFormat string
	// LogLevel (LOG_LEVEL, default info) is debug, info, warn or error.
	LogLevel string
	// SilenceGuard (SILENCE_GUARD, default true) answers forgotten callbacks.
	SilenceGuard bool
	// AdminIDs (ADMIN_IDS, default none; in sandbox mode SandboxAdminID)
	// may use /debug.
	AdminIDs []int64
	// CatalogFile (CATALOG_FILE, default none: the embedded catalog) replaces
	// the bot's catalog of categories and models.
	CatalogFile string
	// JournalTTL (JOURNAL_TTL, default 24h) is the longest the event journal
	// keeps a chain (when its budget does not evict it first).
	JournalTTL time.Duration
	// MetricsShardLabels (METRICS_SHARD_LABELS, default false) adds the shard
	// label to the dispatch histograms of /metrics: a series set per shard,
	// so keep it off with many shards.
	MetricsShardLabels bool
	// JournalMaxMemory (JOURNAL_MAX_MEMORY, default 256MiB) is the event
	// journal's memory budget in bytes: past it the oldest chains are
	// evicted, those that went well first.
	JournalMaxMemory int64
	// JournalRedisURL (JOURNAL_REDIS_URL, default none: the queue's Redis,
	// with a connection pool of its own) puts the event journal in a Redis
	// of its own.
	JournalRedisURL string
	// OpsToken (OPS_TOKEN, default none) opens the ops page (GET /ops) to
	// whoever presents it as a bearer token or the login form's password.
	// Without it the page answers 404, except in sandbox mode where it is
	// open. Never printed, logged or put in errors.
	OpsToken string
	// UpstreamURL (UPSTREAM_URL, default none) turns on forward mode
	// (CONTRACT §7): no built-in bot runs, each update is POSTed to this
	// URL, and the Bot API proxy serves /bot<TOKEN>/<method>.
	UpstreamURL string
	// UpstreamSecret (UPSTREAM_SECRET) is sent as
	// X-Telegram-Bot-Api-Secret-Token with each delivery. Never logged.
	UpstreamSecret string
	// UpstreamTimeout (UPSTREAM_TIMEOUT, default 25s) is one delivery's
	// deadline; it must be below HANDLER_TIMEOUT.
	UpstreamTimeout time.Duration
	// UpstreamSilenceAfter (UPSTREAM_SILENCE_AFTER, default 5s): a
	// delivered callback query not answered by then is answered by the
	// dispatcher (SILENCE_WARNING).
	UpstreamSilenceAfter time.Duration
}

// Default returns the configuration with every default of CONTRACT §2.
func Default() Config {
	return Config{
		TelegramAPIURL:   "https://api.telegram.org",
		ListenAddr:       ":8080",
		WebhookPath:      "/webhook",
		Ingest:           IngestWebhook,
		PollTimeout:      30 * time.Second,
		Namespace:        "tgd",
		RedisWaitTimeout: 500 * time.Millisecond,
		StreamFormat:     StreamFormatAuto,
		InstanceID:       defaultInstanceID(),
		Shards:           1,
		Workers:          16,
		LeaseTTL:         10 * time.Second,
		HandlerTimeout:   30 * time.Second,
		ShutdownTimeout:  20 * time.Second,
		MaxDeliveries:    5,
		MaxBacklog:       100000,
		DedupeWindow:     time.Hour,
		LogFormat:        "json",
		LogLevel:         "info",
		SilenceGuard:     true,
		JournalTTL:       24 * time.Hour,
		JournalMaxMemory: 256 << 20,

		WebhookCheckInterval: time.Minute,
		UpstreamTimeout:      25 * time.Second,
		UpstreamSilenceAfter: 5 * time.Second,
	}
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "dispatcher"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Error is a configuration error that names the offending variable.
type Error struct {
	Var    string // the environment variable (or flag) at fault
	Reason string // why, for a person
}

func (e *Error) Error() string { return e.Var + ": " + e.Reason }

// ErrInvalid matches every *Error with errors.Is.
var ErrInvalid = errors.New("config: invalid")

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalid(name, format string, args ...any) error {
	return &Error{Var: name, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks the configuration and returns the first problem found, as
// an *Error naming the variable.
func (c *Config) Validate() error {
	if c.Sandbox && c.BotToken == "" {
		// fine: the sandbox's fake Bot API is used
	} else if c.BotToken == "" {
		return invalid("BOT_TOKEN", "required unless SANDBOX=true")
	} else if !validToken(c.BotToken) {
		return invalid("BOT_TOKEN", "is not a bot token (want digits, a colon and 35 letters, digits, - or _)")
	}
	if !c.Sandbox {
		if u, err := url.Parse(c.TelegramAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("TELEGRAM_API_URL", "must be an http or https URL, got %q", c.TelegramAPIURL)
		}
		if c.WebhookSecret == "" && !c.InsecureWebhook && c.Ingest != IngestPoll {
			return invalid("WEBHOOK_SECRET", "required unless SANDBOX=true, INSECURE_WEBHOOK=true or INGEST=poll")
		}
	}
	if c.WebhookSecret != "" && !validSecret(c.WebhookSecret) {
		return invalid("WEBHOOK_SECRET", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
	}
	if c.ListenAddr == "" || !strings.Contains(c.ListenAddr, ":") {
		return invalid("LISTEN_ADDR", "must be host:port or :port, got %q", c.ListenAddr)
	}
	if c.OpsListenAddr != "" {
		if !strings.Contains(c.OpsListenAddr, ":") {
			return invalid("OPS_LISTEN_ADDR", "must be host:port or :port, got %q", c.OpsListenAddr)
		}
		if c.OpsListenAddr == c.ListenAddr && !strings.HasSuffix(c.ListenAddr, ":0") {
			return invalid("OPS_LISTEN_ADDR", "must differ from LISTEN_ADDR (%s); leave it unset to serve both on LISTEN_ADDR", c.ListenAddr)
		}
	}
	if !strings.HasPrefix(c.WebhookPath, "/") {
		return invalid("WEBHOOK_PATH", "must start with /, got %q", c.WebhookPath)
	}
	switch c.WebhookPath {
	case "/healthz", "/readyz", "/metrics":
		return invalid("WEBHOOK_PATH", "%s is an ops endpoint", c.WebhookPath)
	}
	if strings.HasPrefix(c.WebhookPath, "/sandbox/") {
		return invalid("WEBHOOK_PATH", "/sandbox/ is reserved for the sandbox Bot API")
	}
	if c.WebhookPath == "/ops" || strings.HasPrefix(c.WebhookPath, "/ops/") {
		return invalid("WEBHOOK_PATH", "/ops is the ops page")
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return invalid("WEBHOOK_URL", "must be an https:// URL (Telegram delivers only over HTTPS), got %q", c.WebhookURL)
		}
	}
	if c.WebhookCheckInterval != 0 && (c.WebhookCheckInterval < 100*time.Millisecond || c.WebhookCheckInterval > time.Hour) {
		return invalid("WEBHOOK_CHECK_INTERVAL", "must be 0 (off) or between 100ms and 1h, got %s", c.WebhookCheckInterval)
	}
	if c.OpsToken != "" && (len(c.OpsToken) < MinOpsToken || len(c.OpsToken) > 256 || strings.ContainsFunc(c.OpsToken, unicode.IsSpace)) {
		return invalid("OPS_TOKEN", "must be %d-256 characters without spaces (a random string: openssl rand -hex 24)", MinOpsToken)
	}
	if c.StreamFormat != StreamFormatAuto && c.StreamFormat != StreamFormatFields {
		return invalid("STREAM_FORMAT", "must be auto or fields, got %q", c.StreamFormat)
	}
	if err := c.validateUpstream(); err != nil {
		return err
	}
	if err := c.validateIngest(); err != nil {
		return err
	}
	if err := c.validateRedis(); err != nil {
		return err
	}
	if c.RedisWaitReplicas < 0 || c.RedisWaitReplicas > 16 {
		return invalid("REDIS_WAIT_REPLICAS", "must be between 0 and 16, got %d", c.RedisWaitReplicas)
	}
	if c.RedisWaitTimeout < time.Millisecond || c.RedisWaitTimeout > time.Second {
		return invalid("REDIS_WAIT_TIMEOUT", "must be between 1ms and 1s, got %s", c.RedisWaitTimeout)
	}
	if c.Namespace == "" || strings.ContainsAny(c.Namespace, "{}: \t\r\n") {
		return invalid("REDIS_NAMESPACE", "must be non-empty without braces, colons or spaces, got %q", c.Namespace)
	}
	if c.InstanceID == "" || len(c.InstanceID) > 128 || strings.ContainsAny(c.InstanceID, " \t\r\n{}") {
		return invalid("INSTANCE_ID", "must be 1-128 characters without spaces or braces, got %q", c.InstanceID)
	}
	if c.Shards < 1 || c.Shards > 1024 {
		return invalid("SHARDS", "must be between 1 and 1024, got %d", c.Shards)
	}
	if c.Workers < 1 || c.Workers > 10000 {
		return invalid("WORKERS", "must be between 1 and 10000, got %d", c.Workers)
	}
	if c.LeaseTTL < time.Second {
		return invalid("LEASE_TTL", "must be at least 1s, got %s", c.LeaseTTL)
	}
	if c.LeaseTTL > 5*time.Minute {
		return invalid("LEASE_TTL", "must be at most 5m, got %s", c.LeaseTTL)
	}
	if c.HandlerTimeout < 10*time.Millisecond {
		return invalid("HANDLER_TIMEOUT", "must be at least 10ms, got %s", c.HandlerTimeout)
	}
	if c.ShutdownTimeout < 0 {
		return invalid("SHUTDOWN_TIMEOUT", "must not be negative, got %s", c.ShutdownTimeout)
	}
	if c.MaxDeliveries < 1 || c.MaxDeliveries > 1000 {
		return invalid("MAX_DELIVERIES", "must be between 1 and 1000, got %d", c.MaxDeliveries)
	}
	if c.MaxBacklog < 1 {
		return invalid("MAX_BACKLOG", "must be at least 1, got %d", c.MaxBacklog)
	}
	if c.DedupeWindow < time.Second {
		return invalid("DEDUPE_WINDOW", "must be at least 1s, got %s", c.DedupeWindow)
	}
	if c.LogFormat != "json" && c.LogFormat != "kv" {
		return invalid("LOG_FORMAT", "must be json or kv, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.JournalTTL < time.Minute {
		return invalid("JOURNAL_TTL", "must be at least 1m, got %s", c.JournalTTL)
	}
	if c.JournalMaxMemory < 1<<20 {
		return invalid("JOURNAL_MAX_MEMORY", "must be at least 1MiB, got %s", FormatSize(c.JournalMaxMemory))
	}
	if c.JournalRedisURL != "" {
		u, err := url.Parse(c.JournalRedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return invalid("JOURNAL_REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
		}
	}
	return nil
}

// Forward reports whether forward mode is on (UPSTREAM_URL set).
func (c *Config) Forward() bool { return c.UpstreamURL != "" }

func (c *Config) validateUpstream() error {
	if c.UpstreamURL != "" {
		u, err := url.Parse(c.UpstreamURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("UPSTREAM_URL", "must be an http:// or https:// URL with a host")
		}
	}
	if c.UpstreamTimeout < 10*time.Millisecond {
		return invalid("UPSTREAM_TIMEOUT", "must be at least 10ms, got %s", c.UpstreamTimeout)
	}
	if c.UpstreamURL != "" && c.UpstreamTimeout >= c.HandlerTimeout {
		return invalid("UPSTREAM_TIMEOUT", "must be below HANDLER_TIMEOUT (%s), got %s", c.HandlerTimeout, c.UpstreamTimeout)
	}
	if c.UpstreamSilenceAfter < 10*time.Millisecond {
		return invalid("UPSTREAM_SILENCE_AFTER", "must be at least 10ms, got %s", c.UpstreamSilenceAfter)
	}
	return nil
}

// Values of INGEST.
const (
	IngestWebhook = "webhook"
	IngestPoll    = "poll"
)

// Values of STREAM_FORMAT.
const (
	StreamFormatAuto   = "auto"
	StreamFormatFields = "fields"
)

func (c *Config) validateIngest() error {
	if c.Ingest != IngestWebhook && c.Ingest != IngestPoll {
		return invalid("INGEST", "must be webhook or poll, got %q", c.Ingest)
	}
	if c.PollTimeout < 0 || c.PollTimeout > 5*time.Minute {
		return invalid("POLL_TIMEOUT", "must be between 0s and 5m, got %s", c.PollTimeout)
	}
	if c.PollTimeout%time.Second != 0 {
		return invalid("POLL_TIMEOUT", "must be whole seconds (getUpdates' timeout is in seconds), got %s", c.PollTimeout)
	}
	return nil
}

func (c *Config) validateRedis() error {
	modes := 0
	if c.RedisURL != "" {
		modes++
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return invalid("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
		}
	}
	if len(c.RedisClusterAddrs) > 0 {
		modes++
	}
	if len(c.RedisSentinelAddrs) > 0 || c.RedisSentinelMaster != "" {
		modes++
		if len(c.RedisSentinelAddrs) == 0 {
			return invalid("REDIS_SENTINEL_ADDRS", "required with REDIS_SENTINEL_MASTER")
		}
		if c.RedisSentinelMaster == "" {
			return invalid("REDIS_SENTINEL_MASTER", "required with REDIS_SENTINEL_ADDRS")
		}
	}
	if modes > 1 {
		return invalid("REDIS_URL", "set only one of REDIS_URL, REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS")
	}
	if err := c.validateRedisAuth(modes); err != nil {
		return err
	}
	for _, a := range append(append([]string{}, c.RedisClusterAddrs...), c.RedisSentinelAddrs...) {
		if !strings.Contains(a, ":") {
			return invalid("REDIS_CLUSTER_ADDRS", "each address must be host:port, got %q", a)
		}
	}
	return nil
}

// validateRedisAuth checks the credentials and TLS settings, which apply to
// every topology but the embedded Redis.
func (c *Config) validateRedisAuth(modes int) error {
	set := map[string]bool{"REDIS_USERNAME": c.RedisUsername != "", "REDIS_PASSWORD": c.RedisPassword != "",
		"REDIS_SENTINEL_PASSWORD": c.RedisSentinelPassword != "", "REDIS_TLS": c.RedisTLS, "REDIS_TLS_CA_FILE": c.RedisTLSCAFile != ""}
	for _, name := range []string{"REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "REDIS_TLS", "REDIS_TLS_CA_FILE"} {
		if set[name] && modes == 0 {
			return invalid(name, "applies to a shared Redis: set REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS")
		}
	}
	if c.RedisSentinelPassword != "" && len(c.RedisSentinelAddrs) == 0 {
		return invalid("REDIS_SENTINEL_PASSWORD", "applies to Sentinel only: set REDIS_SENTINEL_ADDRS")
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err == nil && u.User != nil {
			if _, has := u.User.Password(); has && c.RedisPassword != "" {
				return invalid("REDIS_PASSWORD", "REDIS_URL carries a password too: set it in one place")
			}
			if u.User.Username() != "" && c.RedisUsername != "" {
				return invalid("REDIS_USERNAME", "REDIS_URL carries a user name too: set it in one place")
			}
		}
	}
	if c.RedisUsername != "" && c.RedisPassword == "" {
		return invalid("REDIS_USERNAME", "needs REDIS_PASSWORD (Redis ACL users log in with both)")
	}
	if c.RedisTLSCAFile != "" && !c.RedisTLS && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return invalid("REDIS_TLS_CA_FILE", "set REDIS_TLS=true (or a rediss:// REDIS_URL) to use it")
	}
	return nil
}

// CheckSandbox refuses, for `serve`, a sandbox mode that only follows from
// an empty BOT_TOKEN while the Redis is a shared one: such an instance would
// join whatever deployment that Redis holds with a fake Bot API.
// SANDBOX=true says it is meant.
func (c *Config) CheckSandbox() error {
	if c.Sandbox && c.SandboxImplied && !c.Embedded() {
		return invalid("SANDBOX", "BOT_TOKEN is empty, which means sandbox mode (a fake Bot API), but the Redis is a shared one "+
			"(REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS) that may hold a real deployment: set BOT_TOKEN, "+
			"or SANDBOX=true to run a sandbox on it")
	}
	return nil
}

// Embedded reports whether the instance runs its own in-process Redis.
func (c *Config) Embedded() bool {
	return c.RedisURL == "" && len(c.RedisClusterAddrs) == 0 && len(c.RedisSentinelAddrs) == 0
}

// MinOpsToken is the shortest OPS_TOKEN accepted: the ops page can replay
// and drop updates, so its password must not be guessable.
const MinOpsToken = 16

// SandboxAdminID is the user who may use /debug in sandbox mode when
// ADMIN_IDS is unset, so that the README's walkthrough can show the panel
// without configuration. The sandbox has no real Telegram users.
const SandboxAdminID int64 = 1

// IsAdmin reports whether a Telegram user may use /debug: one of ADMIN_IDS,
// or, in sandbox mode with ADMIN_IDS unset, SandboxAdminID.
func (c *Config) IsAdmin(userID int64) bool {
	if len(c.AdminIDs) == 0 && c.Sandbox {
		return userID == SandboxAdminID
	}
	for _, id := range c.AdminIDs {
		if id == userID {
			return true
		}
	}
	return false
}

// Secrets returns the values that must never appear in any output.
func (c *Config) Secrets() []string {
	var s []string
	if c.BotToken != "" {
		s = append(s, c.BotToken)
	}
	for _, v := range []string{c.WebhookSecret, c.RedisPassword, c.RedisSentinelPassword} {
		if v != "" {
			s = append(s, v)
		}
	}
	if c.OpsToken != "" {
		s = append(s, c.OpsToken)
	}
	if c.UpstreamSecret != "" {
		s = append(s, c.UpstreamSecret)
	}
	return s
}

func validToken(t string) bool {
	i := strings.IndexByte(t, ':')
	if i < 1 || len(t)-i-1 != 35 {
		return false
	}
	for _, r := range t[:i] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return validSecret(t[i+1:])
}

func validSecret(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
