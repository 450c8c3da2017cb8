package redistest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
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
	s := &TLSServer{Port: FreePort(t), Dir: t.TempDir(), Password: "default-pass-" + randHex(t),
		User: "dispatcher", UserPass: "user-pass-" + randHex(t)}
	ca := writeCerts(t, s.Dir)
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(s.Dir, "server.pem"), "--tls-key-file", filepath.Join(s.Dir, "server.key"),
		"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no",
		"--requirepass", s.Password, "--user", s.User, "on", ">"+s.UserPass, "~*", "&*", "+@all",
		"--dir", s.Dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	logf, err := os.Create(filepath.Join(s.Dir, "redis.log"))
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server with TLS: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.Password,
		TLSConfig: &tls.Config{ServerName: "localhost", RootCAs: pool, MinVersion: tls.VersionTLS12}})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			t.Fatalf("redis-server with TLS exited at start (is it built with TLS?): %s", log)
		case <-time.After(20 * time.Millisecond): // poll interval while the server boots
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server with TLS on %s did not answer: %v", s.Addr(), err)
		}
	}
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

// writeCerts writes ca.pem, server.pem and server.key into dir and returns
// the CA certificate.
func writeCerts(t testing.TB, dir string) *x509.Certificate {
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
		DNSNames: []string{"localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca
}
