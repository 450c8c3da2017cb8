package config

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Var describes one setting: its environment variable, its `serve` flag and
// how a text value is applied to a Config.
type Var struct {
	Env    string // environment variable, e.g. LEASE_TTL
	Flag   string // flag of `dispatcher serve`, e.g. lease-ttl
	Usage  string
	Secret bool // never echoed back in errors
	kind   kind
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

// kind is what a variable's value is, for the flag's placeholder in help.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindDuration
	kindList
)

// Vars lists every setting, in the order of CONTRACT §2. Deploy files are
// checked against this list, so it is the one place a variable is declared.
func Vars() []Var { return vars }

var vars = []Var{
	strVar("BOT_TOKEN", "Telegram bot token; required unless sandbox mode", true, func(c *Config) *string { return &c.BotToken }),
	strVar("TELEGRAM_API_URL", "Bot API base URL", false, func(c *Config) *string { return &c.TelegramAPIURL }),
	boolVar("SANDBOX", "built-in fake Bot API (default true when BOT_TOKEN is empty)", func(c *Config) *bool { return &c.Sandbox }),
	strVar("WEBHOOK_SECRET", "secret expected in X-Telegram-Bot-Api-Secret-Token", true, func(c *Config) *string { return &c.WebhookSecret }),
	boolVar("INSECURE_WEBHOOK", "allow a webhook without a secret outside sandbox mode", func(c *Config) *bool { return &c.InsecureWebhook }),
	boolVar("ALLOW_INSECURE_ADMIN", "serve /debug although the webhook has no secret (anyone can post as an admin)", func(c *Config) *bool { return &c.AllowInsecureAdmin }),
	strVar("LISTEN_ADDR", "HTTP address for the webhook (and the ops endpoints unless OPS_LISTEN_ADDR is set)", false, func(c *Config) *string { return &c.ListenAddr }),
	strVar("OPS_LISTEN_ADDR", "HTTP address for the ops endpoints (/readyz, /metrics, /ops, /healthz) and sandbox routes; unset: LISTEN_ADDR", false, func(c *Config) *string { return &c.OpsListenAddr }),
	strVar("WEBHOOK_PATH", "path of the webhook", false, func(c *Config) *string { return &c.WebhookPath }),
	strVar("WEBHOOK_URL", "public https:// URL Telegram delivers to (webhook set's default; the webhook check compares it)", false, func(c *Config) *string { return &c.WebhookURL }),
	durVar("WEBHOOK_CHECK_INTERVAL", "how often the holder of shard 0 asks Telegram getWebhookInfo (0: never)", func(c *Config) *time.Duration { return &c.WebhookCheckInterval }),
	strVar("INGEST", "webhook (Telegram POSTs to WEBHOOK_PATH) or poll (one instance at a time calls getUpdates)", false, func(c *Config) *string { return &c.Ingest }),
	durVar("POLL_TIMEOUT", "getUpdates long-poll timeout with INGEST=poll (whole seconds)", func(c *Config) *time.Duration { return &c.PollTimeout }),
	strVar("REDIS_URL", "redis:// or rediss:// URL; empty: embedded in-process Redis (one instance only)", true, func(c *Config) *string { return &c.RedisURL }),
	listVar("REDIS_CLUSTER_ADDRS", "comma-separated Redis Cluster seed nodes", func(c *Config) *[]string { return &c.RedisClusterAddrs }),
	listVar("REDIS_SENTINEL_ADDRS", "comma-separated Sentinel addresses", func(c *Config) *[]string { return &c.RedisSentinelAddrs }),
	strVar("REDIS_SENTINEL_MASTER", "Sentinel master name", false, func(c *Config) *string { return &c.RedisSentinelMaster }),
	strVar("REDIS_USERNAME", "Redis ACL user, for every topology", false, func(c *Config) *string { return &c.RedisUsername }),
	strVar("REDIS_PASSWORD", "Redis password (of REDIS_USERNAME, or the default user), for every topology", true, func(c *Config) *string { return &c.RedisPassword }),
	strVar("REDIS_SENTINEL_PASSWORD", "password of the Sentinels themselves", true, func(c *Config) *string { return &c.RedisSentinelPassword }),
	boolVar("REDIS_TLS", "connect to Redis over TLS, for every topology (rediss:// implies it)", func(c *Config) *bool { return &c.RedisTLS }),
	strVar("REDIS_TLS_CA_FILE", "PEM file of the CAs that sign the Redis certificates (default: system roots)", false, func(c *Config) *string { return &c.RedisTLSCAFile }),
	intVar("REDIS_WAIT_REPLICAS", "replicas that must acknowledge an append before the webhook answers 200 (Redis WAIT); 0: the master alone", func(c *Config) *int { return &c.RedisWaitReplicas }),
	strVar("STREAM_FORMAT", "auto: write the newest stream entry format once every live instance reads it; fields: the format every version reads (set it before rolling back to a version older than the packed format)", false, func(c *Config) *string { return &c.StreamFormat }),
	durVar("REDIS_WAIT_TIMEOUT", "how long the webhook waits for those replicas before answering 503", func(c *Config) *time.Duration { return &c.RedisWaitTimeout }),
	strVar("REDIS_NAMESPACE", "prefix of every Redis key", false, func(c *Config) *string { return &c.Namespace }),
	strVar("INSTANCE_ID", "unique id of this instance among live ones", false, func(c *Config) *string { return &c.InstanceID }),
	intVar("SHARDS", "number of stream shards (one lease each)", func(c *Config) *int { return &c.Shards }),
	intVar("WORKERS", "concurrent dispatches per instance", func(c *Config) *int { return &c.Workers }),
	durVar("LEASE_TTL", "lease lifetime", func(c *Config) *time.Duration { return &c.LeaseTTL }),
	durVar("HANDLER_TIMEOUT", "deadline of one dispatch", func(c *Config) *time.Duration { return &c.HandlerTimeout }),
	durVar("SHUTDOWN_TIMEOUT", "drain time on SIGTERM", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	intVar("MAX_DELIVERIES", "deliveries of one update before it is dead-lettered", func(c *Config) *int { return &c.MaxDeliveries }),
	intVar("MAX_BACKLOG", "per-shard backlog above which the webhook answers 503", func(c *Config) *int { return &c.MaxBacklog }),
	durVar("DEDUPE_WINDOW", "a repeated update_id within it is not enqueued again", func(c *Config) *time.Duration { return &c.DedupeWindow }),
	strVar("LOG_FORMAT", "json or kv", false, func(c *Config) *string { return &c.LogFormat }),
	strVar("LOG_LEVEL", "debug, info, warn or error", false, func(c *Config) *string { return &c.LogLevel }),
	boolVar("SILENCE_GUARD", "answer callbacks a handler left unanswered", func(c *Config) *bool { return &c.SilenceGuard }),
	{Env: "ADMIN_IDS", Usage: "comma-separated Telegram user ids allowed to use /debug (sandbox mode: user " + strconv.FormatInt(SandboxAdminID, 10) + " when unset)", kind: kindList,
		set: func(c *Config, v string) error {
			ids, err := parseIDs(v)
			if err != nil {
				return err
			}
			c.AdminIDs = ids
			return nil
		},
		get: func(c *Config) string {
			s := make([]string, len(c.AdminIDs))
			for i, id := range c.AdminIDs {
				s[i] = strconv.FormatInt(id, 10)
			}
			return strings.Join(s, ",")
		}},
	strVar("CATALOG_FILE", "JSON catalog of categories and models (default: embedded)", false, func(c *Config) *string { return &c.CatalogFile }),
	durVar("JOURNAL_TTL", "longest the event journal keeps a chain", func(c *Config) *time.Duration { return &c.JournalTTL }),
	{Env: "JOURNAL_MAX_MEMORY", Usage: "memory budget of the event journal (e.g. 256MiB, 2GiB); past it the oldest chains are evicted",
		set: func(c *Config, v string) error {
			n, err := ParseSize(v)
			if err != nil {
				return err
			}
			c.JournalMaxMemory = n
			return nil
		},
		get: func(c *Config) string { return FormatSize(c.JournalMaxMemory) }},
	strVar("JOURNAL_REDIS_URL", "redis:// URL of a Redis of the event journal's own; empty: the queue's Redis", true,
		func(c *Config) *string { return &c.JournalRedisURL }),
	boolVar("METRICS_SHARD_LABELS", "add the shard label to the dispatch histograms of /metrics", func(c *Config) *bool { return &c.MetricsShardLabels }),
	strVar("OPS_TOKEN", "password of the ops page GET /ops (bearer token or login form); unset: 404, except in sandbox mode (open)", true, func(c *Config) *string { return &c.OpsToken }),
	strVar("UPSTREAM_URL", "forward mode: deliver each update to this URL (the bot's webhook) instead of running the built-in bot", false, func(c *Config) *string { return &c.UpstreamURL }),
	strVar("UPSTREAM_SECRET", "forward mode: sent as X-Telegram-Bot-Api-Secret-Token with each delivery", true, func(c *Config) *string { return &c.UpstreamSecret }),
	durVar("UPSTREAM_TIMEOUT", "forward mode: one delivery's deadline (below HANDLER_TIMEOUT)", func(c *Config) *time.Duration { return &c.UpstreamTimeout }),
	durVar("UPSTREAM_SILENCE_AFTER", "forward mode: a delivered callback query with no answer by then is answered by the dispatcher", func(c *Config) *time.Duration { return &c.UpstreamSilenceAfter }),
}

func init() {
	for i := range vars {
		vars[i].Flag = strings.ReplaceAll(strings.ToLower(vars[i].Env), "_", "-")
	}
}

func strVar(env, usage string, secret bool, f func(*Config) *string) Var {
	return Var{Env: env, Usage: usage, Secret: secret, kind: kindString,
		set: func(c *Config, v string) error { *f(c) = v; return nil },
		get: func(c *Config) string { return *f(c) }}
}

func boolVar(env, usage string, f func(*Config) *bool) Var {
	return Var{Env: env, Usage: usage, kind: kindBool,
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			*f(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) }}
}

func intVar(env, usage string, f func(*Config) *int) Var {
	return Var{Env: env, Usage: usage, kind: kindInt,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("must be an integer, got %q", v)
			}
			*f(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*f(c)) }}
}

func durVar(env, usage string, f func(*Config) *time.Duration) Var {
	return Var{Env: env, Usage: usage, kind: kindDuration,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("must be a Go duration such as 500ms or 10s, got %q", v)
			}
			*f(c) = d
			return nil
		},
		get: func(c *Config) string { return shortDuration(*f(c)) }}
}

// shortDuration is d as a Go duration without zero trailing units: 1h, not
// 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func listVar(env, usage string, f func(*Config) *[]string) Var {
	return Var{Env: env, Usage: usage, kind: kindList,
		set: func(c *Config, v string) error { *f(c) = splitList(v); return nil },
		get: func(c *Config) string { return strings.Join(*f(c), ",") }}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseIDs(v string) ([]int64, error) {
	var ids []int64
	for _, p := range splitList(v) {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be comma-separated integers, got %q", p)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// FromEnv returns Default() overlaid with the environment, read through
// lookup (os.LookupEnv in production). A variable set to the empty string
// counts as unset (deploy tools often pass empty values). SANDBOX defaults
// to true when BOT_TOKEN is empty.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	sandboxSet := false
	for _, v := range vars {
		val, ok := lookup(v.Env)
		if !ok || val == "" {
			continue
		}
		if v.Env == "SANDBOX" {
			sandboxSet = true
		}
		if err := v.set(&c, val); err != nil {
			return c, &Error{Var: v.Env, Reason: err.Error()}
		}
	}
	if !sandboxSet {
		c.Sandbox = c.BotToken == ""
		c.SandboxImplied = c.Sandbox
	}
	return c, nil
}

// BindFlags registers one flag per variable on fs, or only the variables
// named in only; after fs.Parse the flags that were set override c. Flag
// errors name the flag and the variable. A flag's default (DefValue) is c's
// value at the time of the call (empty for secrets), so flags bound to
// Default() show the defaults. Boolean variables are boolean flags:
// `-sandbox` alone means true.
func (c *Config) BindFlags(fs *flag.FlagSet, only ...string) {
	for i := range vars {
		v := &vars[i]
		if len(only) > 0 && !slices.Contains(only, v.Env) {
			continue
		}
		fs.Var(&flagValue{v: v, c: c}, v.Flag, v.Usage+" ("+v.Env+")")
	}
}

// flagValue is one variable as a flag.Value.
type flagValue struct {
	v *Var
	c *Config
}

func (f *flagValue) String() string {
	if f == nil || f.v == nil || f.c == nil || f.v.Secret {
		return ""
	}
	return f.v.get(f.c)
}

func (f *flagValue) Set(s string) error {
	if err := f.v.set(f.c, s); err != nil {
		return &Error{Var: f.v.Env, Reason: err.Error()}
	}
	if f.v.Env == "BOT_TOKEN" && s != "" {
		f.c.Sandbox = false
		f.c.SandboxImplied = false
	}
	if f.v.Env == "SANDBOX" {
		f.c.SandboxImplied = false
	}
	return nil
}

// IsBoolFlag makes the flag package take `-name` alone as true.
func (f *flagValue) IsBoolFlag() bool { return f != nil && f.v != nil && f.v.kind == kindBool }

// Placeholder names the flag's value in help: TEXT, N, DURATION or LIST;
// "" for a boolean flag.
func (f *flagValue) Placeholder() string {
	switch f.v.kind {
	case kindBool:
		return ""
	case kindInt:
		return "N"
	case kindDuration:
		return "DURATION"
	case kindList:
		return "LIST"
	}
	return "TEXT"
}

// HelpDefault is the default as help shows it: DefValue, except where the
// default depends on the machine or on another variable.
func (f *flagValue) HelpDefault(defValue string) string {
	switch f.v.Env {
	case "INSTANCE_ID":
		return "HOSTNAME-PID"
	case "SANDBOX":
		return "" // the usage says: true when BOT_TOKEN is empty
	}
	return defValue
}

// Set sets one variable by its name (e.g. "SHARDS") from its text form,
// parsed as FromEnv parses it; a non-empty BOT_TOKEN turns sandbox mode off
// as the -bot-token flag does. An unknown name or a bad value is an *Error.
func (c *Config) Set(env, value string) error {
	for i := range vars {
		if vars[i].Env == env {
			return (&flagValue{v: &vars[i], c: c}).Set(value)
		}
	}
	return &Error{Var: env, Reason: "no such variable (see docs/configuration.md)"}
}

// Value returns the text form of a variable's current value ("" for
// secrets), for `dispatcher status` and docs.
func (c *Config) Value(env string) (string, bool) {
	for _, v := range vars {
		if v.Env == env {
			if v.Secret {
				return "", true
			}
			return v.get(c), true
		}
	}
	return "", false
}
