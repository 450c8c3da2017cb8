// Package tcpproxy is a TCP proxy for tests that stands between a client
// (an instance) and a server (Redis) and breaks the path the ways networks
// break:
//
//   - Stall: a partition where packets are lost, not refused. Every byte in
//     either direction is held, live connections stay open, and new ones are
//     accepted but not connected to the server. The client sees timeouts.
//   - Drop: a partition where the path is refused. Every live connection is
//     closed and new ones are closed as soon as they are accepted. The client
//     sees resets and EOFs at once.
//   - Restore: the path works again; held bytes are delivered in order and
//     held connections are connected.
//
// The proxy listens on a loopback port of its own, so each client can get
// its own proxy and be cut off alone. It owns its goroutines: Close (also
// run at test cleanup) stops them and closes every connection.
package tcpproxy

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// Mode is the state of the path.
type Mode int

// Modes of a Proxy.
const (
	Pass Mode = iota
	Stall
	Drop
	closed
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Stall:
		return "stall"
	case Drop:
		return "drop"
	}
	return "closed"
}

// DialTimeout bounds the connection to the server.
const DialTimeout = 2 * time.Second

// errCut ends a connection that the proxy was told to drop.
var errCut = errors.New("tcpproxy: cut")

// Proxy forwards the TCP connections made to Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced at every mode change
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// New starts a proxy to target on a free loopback port; it is closed at
// the end of the test.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatalf("tcpproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Start starts a proxy to target on a free loopback port. The caller
// closes it.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Stall holds every byte and every new connection until Restore or Drop.
func (p *Proxy) Stall() { p.set(Stall) }

// Drop closes every connection, and every new one at once, until Restore
// or Stall.
func (p *Proxy) Drop() { p.set(Drop) }

// Restore lets bytes and connections through again.
func (p *Proxy) Restore() { p.set(Pass) }

// Conns returns the number of open connections (client and server sides
// count one each).
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() {
	p.set(closed)
	_ = p.ln.Close()
	p.wg.Wait()
}

func (p *Proxy) set(m Mode) {
	p.mu.Lock()
	if p.mode == closed {
		p.mu.Unlock()
		return
	}
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	var cut []net.Conn
	if m == Drop || m == closed {
		for c := range p.conns {
			cut = append(cut, c)
		}
	}
	p.mu.Unlock()
	for _, c := range cut {
		_ = c.Close()
	}
}

// gate blocks while the path is stalled; it returns errCut when the path
// is dropped or the proxy closed.
func (p *Proxy) gate() error {
	for {
		p.mu.Lock()
		m, ch := p.mode, p.changed
		p.mu.Unlock()
		switch m {
		case Pass:
			return nil
		case Drop, closed:
			return errCut
		}
		<-ch
	}
}

// track registers conns as open, or reports false (and closes them) when
// the path was cut meanwhile.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	if p.mode == Drop || p.mode == closed {
		p.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		delete(p.conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			continue
		}
		p.wg.Add(1)
		go p.serve(in)
	}
}

// serve connects one accepted connection once the path lets it, then
// pumps both directions until either side ends or the path is cut.
func (p *Proxy) serve(in net.Conn) {
	defer p.wg.Done()
	if p.gate() != nil {
		p.untrack(in)
		return
	}
	out, err := net.DialTimeout("tcp", p.target, DialTimeout)
	if err != nil {
		p.untrack(in)
		return
	}
	if !p.track(out) {
		p.untrack(in)
		return
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(out, in) }()
	go func() { defer pumps.Done(); p.pump(in, out) }()
	pumps.Wait()
	p.untrack(in, out)
}

// pump copies src to dst, holding each chunk while the path is stalled.
// When it ends, it closes both so the other direction ends too.
func (p *Proxy) pump(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.gate() != nil {
				return
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
