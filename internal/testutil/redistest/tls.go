package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TLSServer is a dedicated redis-server that accepts TLS connections only,
// with a certificate for "localhost" signed by a CA made for the test, a
// password on the default user and an ACL user with every permission. It
// is killed at cleanup.
//
// Clients verify the certificate against CAFile: Go programs read it from
// SSL_CERT_FILE (t.Setenv in the test process before its first TLS
// connection, or the environment of a child process). The certificate
// names localhost only, so a client dialing 127.0.0.1 fails verification:
// that shows verification is on. Every TLSServer of one process shares one
// CA, since Go reads SSL_CERT_FILE once per process.
type TLSServer struct {
	Port     int
	Dir      string
	CAFile   string // PEM of the CA that signed the server's certificate
	Password string // requirepass: the default user's password
	User     string // an ACL user allowed every command and key
	UserPass string
	cmd      *exec.Cmd
	done     chan struct{}
}

// NewTLSServer starts a TLS-only redis-server on a free loopback port.
func NewTLSServer(t testing.TB) *TLSServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not on PATH")
	}
	s := &TLSServer{Dir: t.TempDir(), Password: "default-pass-" + randHex(t),
		User: "dispatcher", UserPass: "user-pass-" + randHex(t)}
	ca := writeCerts(t, s.Dir)
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	s.Port = pickPort(t)
	launchRetrying(t, "redis-server with TLS", func() { s.Port = pickPort(t) }, func() error { return s.launch(ca) })
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

func (s *TLSServer) launch(ca *x509.Certificate) error {
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(s.Dir, "server.pem"), "--tls-key-file", filepath.Join(s.Dir, "server.key"),
		"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no",
		"--requirepass", s.Password, "--user", s.User, "on", ">"+s.UserPass, "~*", "&*", "+@all",
		"--dir", s.Dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	logf, logPath := logFile(s.Dir, "redis.log")
	if logf != nil {
		cmd.Stdout, cmd.Stderr = logf, logf
		defer logf.Close()
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.Password, MaxRetries: -1,
			TLSConfig: &tls.Config{ServerName: "localhost", RootCAs: pool, MinVersion: tls.VersionTLS12}})
	}
	exited := func() error {
		if err := exitedAtStart(logPath, s.Addr()); errors.Is(err, errPortTaken) {
			return err
		}
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("redis-server with TLS exited at start (is it built with TLS?): %s", log)
	}
	if err := waitOurs(client, cmd.Process.Pid, done, exited, 10*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
}

// Addr returns 127.0.0.1:port.
func (s *TLSServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns rediss://user:password@localhost:port/0 (no user: the
// default user with Password; the ACL user: User and UserPass).
func (s *TLSServer) URL(user, password string) string {
	u := url.URL{Scheme: "rediss", Host: "localhost:" + strconv.Itoa(s.Port), Path: "/0"}
	u.User = url.UserPassword(user, password)
	return u.String()
}

func randHex(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 12)
	for _, x := range b {
		out = append(out, hex[x>>4], hex[x&15])
	}
	return string(out)
}

// testCA is one CA per test process: Go reads SSL_CERT_FILE once per
// process, so every TLS server of a test binary must be signed by the CA it
// read first.
var testCA struct {
	once sync.Once
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
	err  error
}

func caOnce() (*x509.Certificate, []byte, *ecdsa.PrivateKey, error) {
	testCA.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCA.err = err
			return
		}
		now := time.Now()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dispatcher test CA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCA.err = err
			return
		}
		testCA.cert, testCA.err = x509.ParseCertificate(der)
		testCA.der, testCA.key = der, key
	})
	return testCA.cert, testCA.der, testCA.key, testCA.err
}

// writeCerts writes ca.pem, server.pem and server.key into dir, a
// certificate for localhost only, and returns the CA certificate.
func writeCerts(t testing.TB, dir string) *x509.Certificate {
	t.Helper()
	return writeCertPair(t, dir, "server", nil)
}

// writeCertPair writes ca.pem, NAME.pem and NAME.key into dir: a
// certificate for localhost and the given IP addresses, signed by the test
// process's CA, which it returns.
func writeCertPair(t testing.TB, dir, name string, ips []net.IP) *x509.Certificate {
	t.Helper()
	ca, caDER, caKey, err := caOnce()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: ips, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{
		"ca.pem":      {Type: "CERTIFICATE", Bytes: caDER},
		name + ".pem": {Type: "CERTIFICATE", Bytes: der},
		name + ".key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca
}
