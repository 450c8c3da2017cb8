// Package dnstest is a minimal DNS server for tests: it answers A queries
// for the names it is given, over UDP on a loopback port, so that a program
// under test (nginx's resolver) can find several test processes under one
// name, the way Docker's DNS answers a Compose service's replicas.
//
// It answers only what such a resolver asks: one question, class IN; type A
// with the configured addresses (TTL 1s), any other type of a known name
// with no answer, an unknown name with NXDOMAIN. It is no general server.
package dnstest

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// Server answers A queries on a loopback UDP port.
type Server struct {
	conn *net.UDPConn
	mu   sync.Mutex
	a    map[string][]net.IP // lower-case name without the final dot
	wg   sync.WaitGroup
}

// New starts a server answering name with addrs; it stops at cleanup.
func New(t testing.TB, name string, addrs ...string) *Server {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("dnstest: listen: %v", err)
	}
	s := &Server{conn: conn, a: map[string][]net.IP{}}
	s.Set(name, addrs...)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { _ = conn.Close(); s.wg.Wait() })
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// Set replaces the addresses of name.
func (s *Server) Set(name string, addrs ...string) {
	var ips []net.IP
	for _, a := range addrs {
		ips = append(ips, net.ParseIP(a).To4())
	}
	s.mu.Lock()
	s.a[strings.ToLower(strings.TrimSuffix(name, "."))] = ips
	s.mu.Unlock()
}

func (s *Server) serve() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return // closed
		}
		if out, err := s.answer(buf[:n]); err == nil {
			_, _ = s.conn.WriteToUDP(out, from)
		}
	}
}

var errMalformed = errors.New("dnstest: malformed query")

// answer builds the response to one query message.
func (s *Server) answer(q []byte) ([]byte, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil, errMalformed
	}
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil, errMalformed
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil, errMalformed
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil, errMalformed
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	s.mu.Lock()
	ips, known := s.a[strings.ToLower(strings.Join(labels, "."))]
	s.mu.Unlock()

	out := make([]byte, 12, 12+len(question)+16*len(ips))
	copy(out, q[:2])                               // id
	flags := uint16(0x8180) | uint16(q[2]&0x01)<<8 // response, recursion desired copied, available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[4:], 1)
	out = append(out, question...)
	if known && qtype == 1 {
		binary.BigEndian.PutUint16(out[6:], uint16(len(ips)))
		for _, ip := range ips {
			out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4) // name pointer, A, IN, TTL 1, length 4
			out = append(out, ip...)
		}
	}
	return out, nil
}
