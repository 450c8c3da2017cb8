package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// A sandbox instance must never join a real deployment (issue 24).

// TestSandboxInstanceRefusesARealDeployment: a real-mode deployment (a
// BOT_TOKEN against the fake Bot API) runs with two shards, so that a
// second instance would get one of them. A sandbox instance started on its
// namespace (SANDBOX=true, no BOT_TOKEN, the same REDIS_URL) refuses to
// start: exit 2 with one line naming the cause and its reason code, no
// lease taken, nothing dispatched; every update reaches the real Bot API
// through the real instance. Without SANDBOX=true the same instance is
// refused by the configuration check.
func TestSandboxInstanceRefusesARealDeployment(t *testing.T) {
	e := world.New(t, "", map[string]string{"SHARDS": "2"})
	real := e.Start(1, "real")[0]

	sandbox := e.Cluster.Start("sandbox-0", map[string]string{"BOT_TOKEN": "", "SANDBOX": "true", "WEBHOOK_SECRET": ""})
	// until it has exited, or (what it must not do) holds a shard
	proctest.Eventually(20*time.Second, 50*time.Millisecond, func() bool {
		if sandbox.Exited() {
			return true
		}
		r, ok := sandbox.Ready()
		return ok && r.Role == "ACTIVE"
	})
	// then the updates, to the real instance, of chats of both shards
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := world.NewDriver([]*proctest.Instance{real})
	for i := int64(1); i <= n; i++ {
		require.NoError(t, d.Send(ctx, i, world.StartMessage(i, 7000+i)))
	}
	delivered := func() map[string]bool {
		chats := map[string]bool{}
		for _, c := range e.Bot.CallsOf("sendMessage") {
			chats[c.Chat()] = true
		}
		return chats
	}
	proctest.Eventually(20*time.Second, 50*time.Millisecond, func() bool {
		return len(delivered())+len(world.LinesNamed(sandbox.Lines(), "DISPATCH_OK")) >= n
	})

	code, exited := sandbox.Wait(15 * time.Second)
	dispatched := len(world.LinesNamed(sandbox.Lines(), "DISPATCH_OK"))
	leases := len(world.LinesNamed(sandbox.Lines(), "LEASE_ACQUIRED"))
	t.Logf("sandbox instance: exited=%v code=%d, %d lease(s) taken, %d update(s) dispatched into its fake Bot API; real Bot API got %d of %d",
		exited, code, leases, dispatched, len(delivered()), n)
	require.True(t, exited, "the sandbox instance does not run: %s", sandbox.Output())
	require.Equal(t, 2, code, sandbox.Output())
	require.Zero(t, leases, "it takes no lease")
	require.Zero(t, dispatched, "it dispatches nothing")
	require.Len(t, delivered(), n, "every update reaches the real Bot API")
	why := lastLine(sandbox.Output(), "dispatcher:")
	t.Log(why)
	require.Contains(t, why, "sandbox mode", why)
	require.Contains(t, why, "MODE_MISMATCH", "the line carries the reason code")
	refused := world.LinesNamed(sandbox.Lines(), "DEPLOYMENT_REFUSED")
	require.Len(t, refused, 1, "one event with the reason code")
	require.Equal(t, "MODE_MISMATCH", refused[0].Str("reason_code"))

	// the same, as an operator would start it: no BOT_TOKEN, no SANDBOX
	implicit := e.Cluster.Start("sandbox-1", map[string]string{"BOT_TOKEN": "", "SANDBOX": "", "WEBHOOK_SECRET": ""})
	code, exited = implicit.Wait(15 * time.Second)
	require.True(t, exited)
	require.Equal(t, 2, code, implicit.Output())
	require.Contains(t, lastLine(implicit.Output(), "dispatcher:"), "SANDBOX:", "the line names the variable")

	// status shows the deployment's and each instance's mode and bot
	out, stderr, code := e.CLI("status")
	require.Equal(t, 0, code, stderr)
	t.Log(out)
	require.Contains(t, out, "mode real", out)
	require.Regexp(t, `(?m)^`+real.ID+`\s+\S+\s+\S+\s+real\s+@`, out, "the instance row names its mode and bot")
	out, stderr, code = e.CLI("status", "--json")
	require.Equal(t, 0, code, stderr)
	var st struct {
		Deployment struct {
			Mode  string `json:"mode"`
			BotID int64  `json:"bot_id"`
		} `json:"deployment"`
		Instances []struct {
			ID, Mode, Bot string
		} `json:"instances"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "real", st.Deployment.Mode)
	require.NotZero(t, st.Deployment.BotID)
	require.Len(t, st.Instances, 1, "the refused instances never registered")
	require.Equal(t, "real", st.Instances[0].Mode)
	require.Contains(t, st.Instances[0].Bot, "@")
}

// lastLine returns the last line of out that starts with prefix.
func lastLine(out, prefix string) string {
	var why string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			why = line
		}
	}
	return fmt.Sprint(why)
}

// TestUpgradeRecordsTheModeOnFirstRealStart: a namespace an older version
// ran on (its shard count recorded, no mode): a sandbox instance is refused
// and records nothing; the first real instance of this version records the
// mode, and a sandbox instance is then refused as on any real deployment.
func TestUpgradeRecordsTheModeOnFirstRealStart(t *testing.T) {
	e := world.New(t, "", nil)
	ctx := context.Background()
	require.NoError(t, e.Redis.Set(ctx, e.Keys.Shards(), 1, 0).Err(), "an older version ran here")

	sandboxEnv := map[string]string{"BOT_TOKEN": "", "SANDBOX": "true", "WEBHOOK_SECRET": ""}
	early := e.Cluster.Start("sandbox-early", sandboxEnv)
	code, exited := early.Wait(15 * time.Second)
	require.True(t, exited)
	require.Equal(t, 2, code, early.Output())
	why := lastLine(early.Output(), "dispatcher:")
	require.Contains(t, why, "was used by an older version that recorded no mode", why)
	require.Contains(t, why, "reason_code=MODE_MISMATCH", why)
	n, err := e.Redis.Exists(ctx, e.Keys.Deployment()).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the sandbox instance recorded nothing")

	e.Start(1, "upgraded")
	mode, err := e.Redis.HGet(ctx, e.Keys.Deployment(), "mode").Result()
	require.NoError(t, err)
	require.Equal(t, "real", mode, "the first real instance of this version records the mode")

	late := e.Cluster.Start("sandbox-late", sandboxEnv)
	code, exited = late.Wait(15 * time.Second)
	require.True(t, exited)
	require.Equal(t, 2, code, late.Output())
	require.Contains(t, lastLine(late.Output(), "dispatcher:"), "is a real deployment")
}
