package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// menuOf waits for the MAIN_MENU sent to chat and returns its message id
// and the callback data of its first button.
func menuOf(t *testing.T, bot *fakebot.Server, chat int64) (int64, string) {
	t.Helper()
	var id int64
	var data string
	ok := bot.WaitFor(10*time.Second, func(calls []fakebot.Call) bool {
		for _, c := range calls {
			if mid, d, found := c.Menu(); found && c.Chat() == fmt.Sprint(chat) {
				id, data = mid, d
				return true
			}
		}
		return false
	})
	require.True(t, ok, "no MAIN_MENU sent to chat %d", chat)
	return id, data
}

// postCID posts an update to in's webhook, requires 200, and returns the
// cid of the answer.
func postCID(ctx context.Context, t *testing.T, in *proctest.Instance, body []byte) string {
	t.Helper()
	code, answer, err := in.Post(ctx, "/webhook", body)
	require.NoError(t, err)
	require.Equal(t, 200, code, answer)
	var r struct {
		CID string `json:"cid"`
	}
	require.NoError(t, json.Unmarshal([]byte(answer), &r), answer)
	return r.CID
}

// TestClickOnPassiveInstanceIsTracedAcrossInstances is the 60-second
// diagnosis: a click posted to the PASSIVE instance is enqueued there and
// dispatched by the ACTIVE one, under one cid that `dispatcher trace`
// prints in order and that `grep cid=` finds in kv logs.
func TestClickOnPassiveInstanceIsTracedAcrossInstances(t *testing.T) {
	e := world.New(t, "", map[string]string{"LOG_FORMAT": "kv"})
	// kv logs are not JSON: read them raw from the processes' output
	ins := e.Start(2, "trace")
	active := e.Active(5*time.Second, ins)
	require.NotNil(t, active)
	passive := ins[0]
	if passive == active {
		passive = ins[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const chat = 515151
	code, _, err := passive.Post(ctx, "/webhook", world.StartMessage(610001, chat))
	require.NoError(t, err)
	require.Equal(t, 200, code)
	msgID, data := menuOf(t, e.Bot, chat)

	code, body, err := passive.Post(ctx, "/webhook", world.Callback(610002, chat, msgID, data, "cb-trace-1"))
	require.NoError(t, err)
	require.Equal(t, 200, code)
	var r struct {
		CID string `json:"cid"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	cid := r.CID

	chain := []string{"CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY"}
	grep := func(in *proctest.Instance) []string {
		var names []string
		sc := bufio.NewScanner(strings.NewReader(in.Output()))
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "cid="+cid) {
				for _, f := range strings.Fields(line) {
					if strings.HasPrefix(f, "name=") {
						names = append(names, strings.TrimPrefix(f, "name="))
					}
				}
			}
		}
		return names
	}
	require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(strings.Join(grep(active), " "), "ANSWER_CALLBACK_QUERY")
	}), "the ACTIVE instance logs the chain")
	require.Contains(t, grep(passive), "QUEUE_ENQUEUE", "the PASSIVE instance logs QUEUE_ENQUEUE under the cid")
	activeNames := grep(active)
	for _, ev := range chain {
		require.Contains(t, activeNames, ev, "grep cid=%s on the ACTIVE instance", cid)
	}
	require.NotContains(t, grep(passive), "CALLBACK_RECEIVED", "the PASSIVE instance does not dispatch")

	// dispatcher trace prints the chain oldest first, naming the instances
	var out string
	require.True(t, proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		o, _, code := e.CLI("trace", cid)
		out = o
		if code != 0 {
			return false
		}
		for _, ev := range append([]string{"QUEUE_ENQUEUE"}, chain...) { // each instance writes its part on its own
			if !strings.Contains(o, ev) {
				return false
			}
		}
		return true
	}), "trace output: %s", out)
	t.Logf("dispatcher trace %s:\n%s", cid, out)
	pos := -1
	for _, ev := range append([]string{"QUEUE_ENQUEUE"}, chain...) {
		i := strings.Index(out, ev)
		require.Greater(t, i, pos, "%s out of order in trace", ev)
		pos = i
	}
	require.Contains(t, out, passive.ID)
	require.Contains(t, out, active.ID)

	jsonOut, _, code := e.CLI("trace", cid, "--json")
	require.Equal(t, 0, code)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(jsonOut), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		require.Equal(t, cid, ev["cid"])
		names = append(names, ev["name"].(string))
	}
	require.Equal(t, "QUEUE_ENQUEUE", names[0])

	_, stderr, code := e.CLI("trace", "nothex!!")
	require.Equal(t, 2, code, stderr)
}

func TestSmokeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd := exec.Command(proctest.Binary(t), "smoke")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, ev := range []string{"CALLBACK_RECEIVED", "CALLBACK_ROUTED", "CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY"} {
		require.Contains(t, string(out), "✅ "+ev)
	}
	require.Contains(t, string(out), "PASS: Full callback chain detected")
}
