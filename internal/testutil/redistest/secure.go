package redistest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Security is the access control of a test topology (NewSecureCluster,
// NewSecureSentinel): the default user needs a password nobody is given,
// so a client must log in as the ACL user User (every command and key);
// with TLS every node listens on TLS only (replication and the cluster bus
// too), with a certificate for localhost and 127.0.0.1 signed by the
// test's CA (CAFile). Sentinels, when there are, require SentinelPass.
type Security struct {
	User, Pass   string
	SentinelPass string
	TLS          bool
	CAFile       string // with TLS: the CA that signed every node's certificate
	dir          string // certificates
	defaultPass  string
}

// NewSecurity returns random credentials and, with useTLS, certificates.
func NewSecurity(t testing.TB, useTLS bool) *Security {
	t.Helper()
	s := &Security{User: "dispatcher", Pass: "user-pass-" + randHex(t), SentinelPass: "sentinel-pass-" + randHex(t),
		TLS: useTLS, dir: t.TempDir(), defaultPass: "default-pass-" + randHex(t)}
	if useTLS {
		writeNodeCerts(t, s.dir)
		s.CAFile = filepath.Join(s.dir, "ca.pem")
	}
	return s
}

// Env returns the dispatcher's settings for these credentials (add
// REDIS_SENTINEL_PASSWORD for a Sentinel topology: SentinelEnv).
func (s *Security) Env() map[string]string {
	env := map[string]string{"REDIS_USERNAME": s.User, "REDIS_PASSWORD": s.Pass}
	if s.TLS {
		env["REDIS_TLS"], env["REDIS_TLS_CA_FILE"] = "true", s.CAFile
	}
	return env
}

// SentinelEnv is Env with the Sentinels' password.
func (s *Security) SentinelEnv() map[string]string {
	env := s.Env()
	env["REDIS_SENTINEL_PASSWORD"] = s.SentinelPass
	return env
}

// tlsConfig is the client side of TLS (nil without it).
func (s *Security) tlsConfig() *tls.Config {
	if s == nil || !s.TLS {
		return nil
	}
	ca, _, _, err := caOnce()
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// options returns client options for addr, logged in as the ACL user
// (just the address without a Security).
func (s *Security) options(addr string) *redis.Options {
	o := &redis.Options{Addr: addr}
	if s != nil {
		o.Username, o.Password, o.TLSConfig = s.User, s.Pass, s.tlsConfig()
	}
	return o
}

// serverArgs are the redis-server arguments of a node listening on port.
func (s *Security) serverArgs(port int, cluster bool) []string {
	if s == nil {
		return []string{"--port", strconv.Itoa(port)}
	}
	args := []string{"--requirepass", s.defaultPass, "--user", s.User, "on", ">" + s.Pass, "~*", "&*", "+@all",
		"--masteruser", s.User, "--masterauth", s.Pass}
	if !s.TLS {
		return append(args, "--port", strconv.Itoa(port))
	}
	args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port), "--tls-replication", "yes",
		"--tls-cert-file", filepath.Join(s.dir, "node.pem"), "--tls-key-file", filepath.Join(s.dir, "node.key"),
		"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no")
	if cluster {
		args = append(args, "--tls-cluster", "yes")
	}
	return args
}

// cliArgs are the redis-cli arguments to reach a node.
func (s *Security) cliArgs() []string {
	if s == nil {
		return nil
	}
	args := []string{"--user", s.User, "--pass", s.Pass, "--no-auth-warning"}
	if s.TLS {
		args = append(args, "--tls", "--cacert", s.CAFile)
	}
	return args
}

// sentinelHead are the sentinel.conf lines of a Sentinel on port before
// its monitor line; sentinelTail the ones after it, about master.
func (s *Security) sentinelHead(port int) []string {
	if s == nil {
		return []string{"port " + strconv.Itoa(port)}
	}
	lines := []string{"requirepass " + s.SentinelPass, "sentinel sentinel-pass " + s.SentinelPass}
	if !s.TLS {
		return append([]string{"port " + strconv.Itoa(port)}, lines...)
	}
	return append([]string{"port 0", "tls-port " + strconv.Itoa(port), "tls-replication yes",
		"tls-cert-file " + filepath.Join(s.dir, "node.pem"), "tls-key-file " + filepath.Join(s.dir, "node.key"),
		"tls-ca-cert-file " + s.CAFile, "tls-auth-clients no"}, lines...)
}

func (s *Security) sentinelTail(master string) []string {
	if s == nil {
		return nil
	}
	return []string{"sentinel auth-user " + master + " " + s.User, "sentinel auth-pass " + master + " " + s.Pass}
}

// sentinelOptions returns client options for the Sentinel at addr.
func (s *Security) sentinelOptions(addr string) *redis.Options {
	o := &redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1}
	if s != nil {
		o.Password, o.TLSConfig = s.SentinelPass, s.tlsConfig()
	}
	return o
}

// writeNodeCerts writes ca.pem, node.pem and node.key into dir: a
// certificate for localhost and 127.0.0.1 (the address every test node
// announces), signed by the test process's CA.
func writeNodeCerts(t testing.TB, dir string) {
	t.Helper()
	writeCertPair(t, dir, "node", []net.IP{net.ParseIP("127.0.0.1")})
}
