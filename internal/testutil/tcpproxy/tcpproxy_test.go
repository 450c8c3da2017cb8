package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string, wait time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return line, err
}

func TestPassStallRestore(t *testing.T) {
	p := New(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := roundTrip(c, r, "one", 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, "one\n", got)

	p.Stall()
	require.Equal(t, Stall, p.Mode())
	_, err = roundTrip(c, r, "two", 200*time.Millisecond)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "a stalled path times out: %v", err)
	// a new connection is accepted but not served
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	_, err = roundTrip(c2, r2, "new", 200*time.Millisecond)
	require.ErrorAs(t, err, &ne)

	p.Restore()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	got, err = r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "two\n", got, "held bytes are delivered after the stall")
	_ = c2.SetDeadline(time.Now().Add(2 * time.Second))
	got, err = r2.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "new\n", got, "a held connection is served after the stall")
}

func TestDropClosesAndRefusesUntilRestore(t *testing.T) {
	p := New(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = roundTrip(c, r, "one", 2*time.Second)
	require.NoError(t, err)

	p.Drop()
	_, err = roundTrip(c, r, "two", 2*time.Second)
	require.Error(t, err)
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "a dropped path fails at once, not by timeout: %v", err)
	}
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err, "the listener still accepts")
	_, err = roundTrip(c2, bufio.NewReader(c2), "x", 2*time.Second)
	require.Error(t, err, "and closes at once")
	c2.Close()
	require.Eventually(t, func() bool { return p.Conns() == 0 }, 2*time.Second, 10*time.Millisecond)

	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c3.Close()
	got, err := roundTrip(c3, bufio.NewReader(c3), "back", 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, "back\n", got)
}

func TestCloseEndsStalledConnections(t *testing.T) {
	p, err := Start(echo(t))
	require.NoError(t, err)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	p.Stall()
	_, _ = io.WriteString(c, "held\n")
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a stalled connection")
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	p.Restore() // after Close: no effect
	require.Equal(t, "closed", p.Mode().String())
}
