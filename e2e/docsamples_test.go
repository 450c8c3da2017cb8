package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// updateDocs makes TestDocSamples rewrite the samples instead of checking
// them: DISPATCHER_UPDATE_DOCS=1 go test ./e2e -run TestDocSamples.
var updateDocs = os.Getenv("DISPATCHER_UPDATE_DOCS") == "1"

// sampleUser is the user of the runbook's report.
const sampleUser = 5550001

// TestDocSamples writes the output samples of docs/telemetry.md and
// docs/operations.md from a real run, or, without DISPATCHER_UPDATE_DOCS=1,
// checks that each sample still has the shape of the real output: the same
// lines once values that change from run to run (times, cids, ids, numbers,
// state tags, column widths) are masked. A sample is the fenced block after
// a `<!-- sample: NAME -->` line.
//
// The run: node-b (ACTIVE) and node-a (PASSIVE), LOG_FORMAT=kv; user 5550001
// sends /start, presses Image, presses Image on the old menu again
// (STATE_MISMATCH), and Telegram resends that click (DUPLICATE_UPDATE);
// every post goes to node-a. Then the admin presses Debug 30 min. The
// runbook's shell recipes run on the two instances' logs.
func TestDocSamples(t *testing.T) {
	// no webhook check: whether its line is in the status sample would
	// depend on timing (and the fake Bot API has no webhook set)
	e := world.New(t, "", map[string]string{"LOG_FORMAT": "kv", "ADMIN_IDS": "1", "WEBHOOK_CHECK_INTERVAL": "0"})
	b := e.Cluster.Start("node-b", nil)
	b.WaitReady(20 * time.Second)
	require.Equal(t, b, e.Active(10*time.Second, []*proctest.Instance{b}))
	a := e.Cluster.Start("node-a", nil)
	a.WaitReady(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	post := func(body []byte) string {
		t.Helper()
		return postCID(ctx, t, a, body)
	}
	waitLog := func(in *proctest.Instance, parts ...string) {
		t.Helper()
		require.True(t, proctest.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
			return kvLine(in.Output(), parts...) != ""
		}), "%s never logged %v:\n%s", in.ID, parts, in.Output())
	}

	post(world.StartMessage(700001, sampleUser))
	msgID, data := menuOf(t, e.Bot, sampleUser)
	accepted := post(world.Callback(700002, sampleUser, msgID, data, "cb-700002"))
	waitLog(b, "name=DISPATCH_OK", "cid="+accepted)
	stale := world.Callback(700003, sampleUser, msgID, data, "cb-700003")
	refused := post(stale)
	waitLog(b, "name=DISPATCH_OK", "cid="+refused)
	resend := post(stale)
	waitLog(a, "name=DUPLICATE_UPDATE", "cid="+resend)

	samples := map[string]string{}
	// the CLI's output once the chain is complete: each instance writes
	// its events to the journal asynchronously
	cli := func(args ...string) string {
		t.Helper()
		return cliUntil(t, e, []string{"QUEUE_ENQUEUE", "DISPATCH_OK"}, args...)
	}
	samples["trace"] = "$ dispatcher trace " + refused + "\n" + cli("trace", refused)
	js := strings.SplitAfterN(cli("trace", refused, "--json"), "\n", 3)
	samples["trace-json"] = "$ dispatcher trace " + refused + " --json | head -n 2\n" + js[0] + js[1]
	samples["trace-resend"] = "$ dispatcher trace " + resend + "\n" + cli("trace", resend)
	var status string
	require.True(t, proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		o, _, code := e.CLI("status")
		status = o
		return code == 0 && regexp.MustCompile(`(?m)^node-a +PASSIVE .*\n^node-b +ACTIVE +0 `).MatchString(o)
	}), "status: %s", status)
	samples["status"] = "$ dispatcher status\n" + status

	dir := t.TempDir()
	writeLogs := func() {
		for _, in := range []*proctest.Instance{a, b} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, in.ID+".log"), []byte(in.Output()), 0o644))
		}
	}
	shell := func(name, cmd string) string {
		t.Helper()
		c := exec.Command("sh", "-c", cmd)
		c.Dir = dir
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%s: %s", cmd, out)
		samples[name] = "$ " + cmd + "\n" + string(out)
		return string(out)
	}
	writeLogs()
	last := shell("last-cid", fmt.Sprintf(`grep -h 'user_id=%d ' node-*.log | grep -v name=DUPLICATE_UPDATE | sort | grep -o ' cid=[0-9a-f]*' | tail -n 1`, sampleUser))
	require.Equal(t, " cid="+refused+"\n", last, "the user's latest cid, resends left out")
	lines := strings.Split(strings.TrimSpace(shell("grep-cid", "grep -h cid="+refused+" node-*.log | sort")), "\n")
	require.Contains(t, lines[0], "name=QUEUE_ENQUEUE", "sorted, the append comes first")
	require.Contains(t, lines[len(lines)-1], "name=DUPLICATE_UPDATE", "and the resend last")
	shell("grep-reason", "grep -h reason_code=STATE_MISMATCH node-*.log")
	rejected := kvLine(b.Output(), "name=CALLBACK_REJECTED", "cid="+refused)

	// the admin switches every instance to debug
	post([]byte(`{"update_id":700004,"message":{"message_id":4,"date":1764300000,"text":"/debug",
		"chat":{"id":1,"type":"private"},"from":{"id":1,"is_bot":false,"first_name":"Admin"},
		"entities":[{"type":"bot_command","offset":0,"length":6}]}}`))
	panelID, on := menuOf(t, e.Bot, 1)
	require.Equal(t, "v1:debug_on_30", on)
	post(world.Callback(700005, 1, panelID, on, "cb-700005"))
	// the handler's line (with the click's cid), then each instance's as it
	// follows the flag
	require.True(t, proctest.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		return strings.Count(a.Output()+b.Output(), "name=DEBUG_MODE_CHANGED") == 3
	}), "DEBUG_MODE_CHANGED:\n%s\n%s", a.Output(), b.Output())
	writeLogs()
	shell("debug", "grep -h DEBUG_MODE_CHANGED node-*.log | sort")

	samples["line"] = sandboxRejectionJSON(t) + "\n" + rejected + "\n"

	checkSamples(t, "../docs/telemetry.md", samples, "line", "debug", "last-cid", "trace", "trace-json", "trace-resend", "grep-cid", "grep-reason")
	checkSamples(t, "../docs/operations.md", samples, "status")
}

// kvLine returns the first line of out that holds every part as a field
// ("name=X"), "" if none.
func kvLine(out string, parts ...string) string {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		ok := true
		for _, p := range parts {
			if !slices.Contains(fields, p) {
				ok = false
				break
			}
		}
		if ok && len(parts) > 0 {
			return line
		}
	}
	return ""
}

// sandboxRejectionJSON runs the refused click on a sandbox instance named
// node-b with LOG_FORMAT=json and returns its CALLBACK_REJECTED line.
func sandboxRejectionJSON(t *testing.T) string {
	t.Helper()
	p := startProcess(t, map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "INSTANCE_ID": "node-b", "LOG_FORMAT": "json",
		"BOT_TOKEN": "", "REDIS_URL": "", "SANDBOX": "true", "ADMIN_IDS": ""}, "serve")
	p.waitLine(t, 15*time.Second, `"name":"SERVICE_READY"`)
	addr := p.boundAddr(t, time.Second)
	send := func(body []byte) {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/webhook", "application/json", strings.NewReader(string(body)))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(b))
	}
	menu := func() (int64, string) {
		var msgID int64
		var data string
		require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
			resp, err := http.Get("http://" + addr + "/sandbox/messages")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var m struct{ Messages []fakebot.Call }
			if json.NewDecoder(resp.Body).Decode(&m) != nil {
				return false
			}
			for _, c := range m.Messages {
				if id, d, ok := c.Menu(); ok {
					msgID, data = id, d
					return true
				}
			}
			return false
		}))
		return msgID, data
	}
	send(world.StartMessage(700001, sampleUser))
	msgID, data := menu()
	send(world.Callback(700002, sampleUser, msgID, data, "cb-700002"))
	p.waitLine(t, 10*time.Second, `"name":"CALLBACK_ACCEPTED"`)
	send(world.Callback(700003, sampleUser, msgID, data, "cb-700003"))
	var line string
	require.True(t, proctest.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		for _, l := range strings.Split(p.out(), "\n") {
			if strings.Contains(l, `"name":"CALLBACK_REJECTED"`) {
				line = l
				return true
			}
		}
		return false
	}), "no CALLBACK_REJECTED:\n%s", p.out())
	return line
}

// sampleRE finds a sample: the marker and the fenced block after it.
var sampleRE = regexp.MustCompile("(?m)^<!-- sample: ([a-z-]+) -->\n```\n((?s:.*?))```\n")

// checkSamples checks (or with updateDocs rewrites) the samples names of
// file against samples.
func checkSamples(t *testing.T, file string, samples map[string]string, names ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	doc := string(b)
	var found []string
	var stale []string
	out := sampleRE.ReplaceAllStringFunc(doc, func(block string) string {
		m := sampleRE.FindStringSubmatch(block)
		name, text := m[1], m[2]
		found = append(found, name)
		fresh, ok := samples[name]
		if !ok {
			t.Errorf("%s: sample %q is written by no one", file, name)
			return block
		}
		if !strings.HasSuffix(fresh, "\n") {
			fresh += "\n"
		}
		if a, b := sampleShape(text), sampleShape(fresh); !slices.Equal(a, b) {
			stale = append(stale, fmt.Sprintf("%s: sample %q has not the shape of the real output.\ndoc:\n%s\nreal:\n%s", file, name, text, fresh))
		}
		return "<!-- sample: " + name + " -->\n```\n" + fresh + "```\n"
	})
	require.ElementsMatch(t, names, found, "%s: the samples on the page", file)
	if updateDocs {
		require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
		t.Logf("%s: %d samples written", file, len(found))
		return
	}
	if len(stale) > 0 {
		t.Fatalf("%s\n\nrun DISPATCHER_UPDATE_DOCS=1 go test ./e2e -run TestDocSamples to rewrite them", strings.Join(stale, "\n\n"))
	}
}

// shapeMasks replace what changes from run to run; the number of digits
// of a timestamp's fraction is kept (milliseconds or microseconds).
var shapeMasks = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})Z`), "TS6"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})Z`), "TS3"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "TS"},
	{regexp.MustCompile(`\b\d{10,}-\d+\b`), "SID"},
	{regexp.MustCompile(`@[0-9a-z]+`), "@TAG"},
	{regexp.MustCompile(`\b[0-9a-f]{8}\b`), "CID"},
	{regexp.MustCompile(`\d+(\.\d+)?(ms|s|m|h)?`), "N"},
	{regexp.MustCompile(`[ \t]+`), " "},
}

// sampleShape is a sample's lines with what changes from run to run
// masked, sorted (lines of equal ts may come in either order).
func sampleShape(s string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		for _, m := range shapeMasks {
			line = m.re.ReplaceAllString(line, m.repl)
		}
		out = append(out, strings.TrimSpace(line))
	}
	slices.Sort(out)
	return out
}
