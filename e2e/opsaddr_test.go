package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// opsAddrOf returns the ops address an instance reports (ops_addr of its
// SERVICE_STARTING line), dialable from here.
func opsAddrOf(t *testing.T, in *proctest.Instance) string {
	t.Helper()
	l, ok := in.WaitLine(10*time.Second, func(l proctest.Line) bool {
		return l.Name() == "SERVICE_STARTING" && l.Str("ops_addr") != ""
	})
	require.True(t, ok, "no ops_addr: %s", in.Output())
	host, port, err := net.SplitHostPort(l.Str("ops_addr"))
	require.NoError(t, err)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func status(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(`{"update_id":1}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestOpsListenAddrSeparatesOpsFromTheWebhook: with OPS_LISTEN_ADDR the
// public address (LISTEN_ADDR) serves the webhook and /healthz only;
// /readyz, /metrics, /ops (and nothing of the sandbox outside sandbox mode)
// are on the ops address, where the webhook is not. Real processes.
func TestOpsListenAddrSeparatesOpsFromTheWebhook(t *testing.T) {
	e := world.New(t, "", map[string]string{"OPS_LISTEN_ADDR": "127.0.0.1:0",
		"OPS_TOKEN": "0123456789abcdef0123456789"})
	in := e.Cluster.Start("ops-0", nil)
	ops := "http://" + opsAddrOf(t, in)
	require.NotEqual(t, "http://"+in.Addr, ops)
	require.True(t, proctest.Eventually(20*time.Second, 25*time.Millisecond, func() bool {
		resp, err := http.Get(ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}), "ready on the ops address")

	pub := "http://" + in.Addr
	for _, path := range []string{"/readyz", "/metrics", "/ops", "/ops/", "/sandbox/messages", "/sandbox/redis"} {
		require.Equal(t, http.StatusNotFound, status(t, http.MethodGet, pub+path), "public %s", path)
	}
	require.Equal(t, http.StatusOK, status(t, http.MethodGet, pub+"/healthz"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body, err := in.Post(ctx, "/webhook", world.EditedMessage(880001, 8801))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, body)

	for _, path := range []string{"/readyz", "/metrics", "/healthz"} {
		require.Equal(t, http.StatusOK, status(t, http.MethodGet, ops+path), "ops %s", path)
	}
	require.NotEqual(t, http.StatusNotFound, status(t, http.MethodGet, ops+"/ops"), "the ops page (OPS_TOKEN set)")
	require.Equal(t, http.StatusNotFound, status(t, http.MethodPost, ops+"/webhook"), "no webhook on the ops address")
	for _, path := range []string{"/sandbox/messages", "/sandbox/redis", "/sandbox/bot1:x/getMe"} {
		require.Equal(t, http.StatusNotFound, status(t, http.MethodGet, ops+path), "not sandbox mode: %s", path)
	}
}

// TestSandboxRoutesFollowTheOpsAddress: in sandbox mode with
// OPS_LISTEN_ADDR the sandbox routes (the fake Bot API the bot itself
// calls, /sandbox/messages) are on the ops address only, and the bot works.
func TestSandboxRoutesFollowTheOpsAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := proctest.NewCluster(t, map[string]string{"REDIS_URL": redistest.URL(t), "REDIS_NAMESPACE": redistest.Namespace(t),
		"SANDBOX": "true", "OPS_LISTEN_ADDR": "127.0.0.1:0", "LEASE_TTL": "2s"})
	in := c.Start("sb-0", nil)
	ops := "http://" + opsAddrOf(t, in)
	require.True(t, proctest.Eventually(20*time.Second, 25*time.Millisecond, func() bool {
		resp, err := http.Get(ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}))
	require.Equal(t, http.StatusNotFound, status(t, http.MethodGet, "http://"+in.Addr+"/sandbox/messages"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body, err := in.Post(ctx, "/webhook", world.StartMessage(880002, 8802))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, body)
	require.True(t, proctest.Eventually(10*time.Second, 25*time.Millisecond, func() bool {
		resp, err := http.Get(ops + "/sandbox/messages")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"sendMessage"`)
	}), "the bot's reply reached the sandbox's fake Bot API on the ops address")
}
