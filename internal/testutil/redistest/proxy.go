package redistest

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback port to one redis-server.
// It tells the replication link (a connection on which the client sends
// REPLCONF or PSYNC, as a replica does) from ordinary clients, and can
// freeze the replication links: while frozen, nothing more is forwarded on
// them in either direction, so what the master writes meanwhile never
// reaches its replicas. That is the window asynchronous replication loses
// when the master dies, made wide enough to see. Ordinary clients pass
// through unaffected.
//
// Close (or Drop) closes the listener and every connection without
// forwarding what is held, as a killed host would.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	// replicationOnly: every connection is a replication link (a proxy
	// only replicas use); Freeze holds all of them, even over TLS, where
	// the handshake cannot be read.
	replicationOnly bool

	mu     sync.Mutex
	gate   chan struct{} // closed while replication flows
	closed chan struct{} // closed by Close
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port), which need not be up yet: each accepted connection dials it.
// It is closed at cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	return newProxy(t, target, false)
}

func newProxy(t testing.TB, target string, replicationOnly bool) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{t: t, ln: ln, target: target, replicationOnly: replicationOnly, gate: make(chan struct{}), closed: make(chan struct{}),
		conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// NewReplicationProxy is NewProxy for a proxy that only replicas use:
// Freeze holds every connection on it (TLS replication links too).
func NewReplicationProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	return newProxy(t, target, true)
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port returns the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// setTarget changes the address new connections are forwarded to (a
// server started again on another port).
func (p *Proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// Freeze stops forwarding on replication links until Thaw.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Thaw resumes forwarding on replication links, held bytes first.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Close closes the listener and every connection, dropping held bytes, and
// waits for the forwarding goroutines. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return
	default:
	}
	close(p.closed)
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.Target())
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		select {
		case <-p.closed:
			p.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			return
		default:
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		link := &proxyLink{replication: p.replicationOnly}
		p.wg.Add(2)
		go p.pipe(out, in, link, true)
		go p.pipe(in, out, link, false)
	}
}

// proxyLink is one proxied connection pair.
type proxyLink struct {
	mu          sync.Mutex
	replication bool
}

func (l *proxyLink) isReplication() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replication
}

var replicationMarkers = [][]byte{[]byte("REPLCONF"), []byte("PSYNC"), []byte("SYNC\r\n")}

// pipe copies src to dst; fromClient marks the client-to-server direction,
// where the replica's handshake is recognised.
func (p *Proxy) pipe(dst, src net.Conn, link *proxyLink, fromClient bool) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient && !link.isReplication() {
				up := bytes.ToUpper(buf[:n])
				for _, m := range replicationMarkers {
					if bytes.Contains(up, m) {
						link.mu.Lock()
						link.replication = true
						link.mu.Unlock()
						break
					}
				}
			}
			if link.isReplication() {
				p.mu.Lock()
				gate := p.gate
				p.mu.Unlock()
				select {
				case <-gate:
				case <-p.closed:
					return // held bytes are dropped
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// String describes the proxy for test output.
func (p *Proxy) String() string {
	return "proxy " + p.Addr() + " -> " + p.Target() + " (port " + strconv.Itoa(p.Port()) + ")"
}
