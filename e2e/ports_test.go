package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestInstancesListenOnPortZero: an instance started with LISTEN_ADDR on
// port 0 reports the address it bound (SERVICE_STARTING, field addr), and
// the harness reaches it there: no test picks a port for a process to bind
// later (the race that once failed a fresh clone's `make test` with
// "address already in use").
func TestInstancesListenOnPortZero(t *testing.T) {
	e := world.New(t, "", nil)
	in := e.Cluster.Start("port0", map[string]string{"LISTEN_ADDR": "127.0.0.1:0"})
	in.WaitReady(20 * time.Second)
	_, port, err := net.SplitHostPort(in.Addr)
	require.NoError(t, err)
	require.NotEqual(t, "0", port, "the harness reads the bound port back")
	line, ok := in.WaitLine(time.Second, func(l proctest.Line) bool {
		return l.Name() == "SERVICE_STARTING" && l.Str("addr") != ""
	})
	require.True(t, ok)
	require.Equal(t, in.Addr, line.Str("addr"), "SERVICE_STARTING names the bound address")
}
