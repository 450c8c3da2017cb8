// Package redisx builds the Redis client of an instance from its
// configuration: an embedded in-process Redis (miniredis) when no Redis is
// configured, a single server from REDIS_URL (redis://, rediss:// for TLS,
// unix://), Redis Cluster from REDIS_CLUSTER_ADDRS, or Sentinel failover
// from REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER; credentials
// (REDIS_USERNAME, REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD) and TLS
// (REDIS_TLS, REDIS_TLS_CA_FILE) apply to each.
//
// The embedded Redis lives and dies with the process: it serves one
// instance only and keeps nothing across restarts. It exists so that a
// person can run the service with one command; production uses a real
// Redis.
package redisx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

// Timeouts of every client. Blocking stream reads extend the read timeout
// by their BLOCK time (go-redis does this per command), so a blocked
// XREADGROUP is never cut short by ReadTimeout. Every client honours its
// context's deadline and cancellation (ContextTimeoutEnabled), so a drain
// or a lease step-down interrupts a blocked read at once.
const (
	DialTimeout  = 2 * time.Second
	ReadTimeout  = 2 * time.Second
	WriteTimeout = 2 * time.Second
	// ClusterStateReload bounds how long a Cluster client keeps sending a
	// slot's commands to a master that died: go-redis re-reads the slot map
	// at once only on MOVED or ASK, and a dead master answers neither, so
	// without this the client would wait for its 60s default to learn of
	// the promoted replica. One CLUSTER SLOTS a second is cheap.
	ClusterStateReload = time.Second
)

// ErrConfig is returned for a Redis setting that cannot be used.
var ErrConfig = errors.New("redisx: bad redis configuration")

// Client is a Redis client and what must be closed with it.
type Client struct {
	redis.UniversalClient
	// Embedded is the in-process server when the instance runs without a
	// configured Redis, nil otherwise.
	Embedded *miniredis.Miniredis
	// Mode is "embedded", "single", "cluster" or "sentinel".
	Mode string
}

// New builds the client described by cfg. It does not contact Redis.
// REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS and REDIS_TLS_CA_FILE apply to
// every topology (with REDIS_URL they fill in what the URL leaves out),
// REDIS_SENTINEL_PASSWORD to the Sentinels. An unreadable CA file is a
// *config.Error naming REDIS_TLS_CA_FILE.
func New(cfg *config.Config) (*Client, error) {
	tlsCfg, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cfg.RedisClusterAddrs, DialTimeout: DialTimeout, ReadTimeout: ReadTimeout,
			WriteTimeout: WriteTimeout, ClientName: cfg.InstanceID, ContextTimeoutEnabled: true,
			ClusterStateReloadInterval: ClusterStateReload,
			Username:                   cfg.RedisUsername, Password: cfg.RedisPassword, TLSConfig: tlsCfg,
		})
		return &Client{UniversalClient: c, Mode: "cluster"}, nil
	case len(cfg.RedisSentinelAddrs) > 0:
		c := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: cfg.RedisSentinelMaster, SentinelAddrs: cfg.RedisSentinelAddrs,
			DialTimeout: DialTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout,
			ClientName: cfg.InstanceID, ContextTimeoutEnabled: true,
			Username: cfg.RedisUsername, Password: cfg.RedisPassword, SentinelPassword: cfg.RedisSentinelPassword,
			TLSConfig: tlsCfg,
		})
		return &Client{UniversalClient: c, Mode: "sentinel"}, nil
	case cfg.RedisURL != "":
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			// the URL may hold a password: never echo it
			return nil, fmt.Errorf("%w: REDIS_URL does not parse", ErrConfig)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = DialTimeout, ReadTimeout, WriteTimeout
		opt.ContextTimeoutEnabled = true
		if opt.ClientName == "" {
			opt.ClientName = cfg.InstanceID
		}
		if opt.Username == "" {
			opt.Username = cfg.RedisUsername
		}
		if opt.Password == "" {
			opt.Password = cfg.RedisPassword
		}
		switch {
		case tlsCfg != nil && opt.TLSConfig != nil: // rediss:// with a CA file
			opt.TLSConfig.RootCAs = tlsCfg.RootCAs
		case tlsCfg != nil:
			opt.TLSConfig = tlsCfg
		}
		return &Client{UniversalClient: redis.NewClient(opt), Mode: "single"}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("redisx: start embedded redis: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), DialTimeout: DialTimeout,
		ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, ContextTimeoutEnabled: true})
	return &Client{UniversalClient: c, Embedded: m, Mode: "embedded"}, nil
}

// TLSConfig returns the TLS settings of REDIS_TLS and REDIS_TLS_CA_FILE,
// nil without TLS (or when only a rediss:// URL asks for it: go-redis then
// makes its own, verified against the system's roots). The server name is
// each address's host, so a Cluster's or Sentinel's nodes are verified
// under the names (or IP addresses) they announce.
func TLSConfig(cfg *config.Config) (*tls.Config, error) {
	if !cfg.RedisTLS && cfg.RedisTLSCAFile == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.RedisTLSCAFile != "" {
		pem, err := os.ReadFile(cfg.RedisTLSCAFile)
		if err != nil {
			return nil, &config.Error{Var: "REDIS_TLS_CA_FILE", Reason: "cannot be read: " + err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &config.Error{Var: "REDIS_TLS_CA_FILE", Reason: "holds no PEM certificate"}
		}
		t.RootCAs = pool
	}
	return t, nil
}

// Close closes the client and stops the embedded server, if any.
func (c *Client) Close() error {
	err := c.UniversalClient.Close()
	if c.Embedded != nil {
		c.Embedded.Close()
	}
	return err
}

//go:embed probe.lua
var probeLua string

var probeScript = redis.NewScript(probeLua)

// Probe checks within timeout that the Redis user may do what an instance
// does (probe.lua: a script that writes and deletes a stream at key, a
// key of the namespace's shard 0): an ACL that forbids it answers NOPERM,
// which PermanentError turns into the configuration error it is.
func Probe(ctx context.Context, c redis.Scripter, key string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return probeScript.Run(ctx, c, []string{key}).Err()
}

// Ping checks that Redis answers within timeout.
func Ping(ctx context.Context, c redis.UniversalClient, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

// permanentPrefixes open the answers Redis gives again on every try with
// the same configuration: authentication (a wrong or missing password or
// user), ACL denials, and a database the server does not have.
var permanentPrefixes = []string{
	"WRONGPASS", "NOAUTH", "NOPERM",
	"ERR DB index is out of range", "ERR invalid DB index", "ERR SELECT is not allowed in cluster mode",
	"ERR invalid password", "ERR Client sent AUTH, but no password is set", "ERR AUTH ",
	"ERR invalid username-password pair",
}

// Permanent reports whether err holds an answer from Redis that no retry can
// change: a wrong or missing password or user (WRONGPASS, NOAUTH), an ACL
// denial (NOPERM), a database index the server does not have. It is a
// configuration error. Every other error, a refused or timed-out connection
// or an answer such as LOADING, READONLY, MASTERDOWN, CLUSTERDOWN or TRYAGAIN,
// may pass and is not permanent.
func Permanent(err error) bool { return permanentAnswer(err) != "" }

// permanentAnswer returns the text of the permanent answer err holds, "" if
// none.
func permanentAnswer(err error) string {
	var re redis.Error
	if !errors.As(err, &re) {
		return ""
	}
	msg := re.Error()
	for _, p := range permanentPrefixes {
		if strings.HasPrefix(msg, p) {
			return msg
		}
	}
	return ""
}

// ConfigVar names the variable that selects the Redis of cfg, for an error
// that says it is wrong: REDIS_URL, REDIS_CLUSTER_ADDRS or
// REDIS_SENTINEL_ADDRS.
func ConfigVar(cfg *config.Config) string {
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		return "REDIS_CLUSTER_ADDRS"
	case len(cfg.RedisSentinelAddrs) > 0:
		return "REDIS_SENTINEL_ADDRS"
	}
	return "REDIS_URL"
}

// PermanentError returns err as the configuration error it is when
// Permanent(err): one line naming the variable (see ConfigVar) and quoting
// Redis' answer. It returns nil for any other error.
func PermanentError(cfg *config.Config, err error) error {
	answer := permanentAnswer(err)
	if answer == "" {
		return nil
	}
	return &config.Error{Var: ConfigVar(cfg), Reason: "Redis refuses it on every try: " + answer}
}
