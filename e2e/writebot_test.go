package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// readmeProgram returns the Go program of the README's "Write your bot"
// section: the ```go block after `<!-- readme-go: main.go -->`.
func readmeProgram(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(text), "<!-- readme-go: main.go -->\n```go\n")
	require.True(t, ok, "README.md has no `<!-- readme-go: main.go -->` block")
	prog, _, ok := strings.Cut(rest, "```\n")
	require.True(t, ok)
	return prog
}

// The README's program, copied into a new module outside this repository
// (its go.mod says only `replace` to this checkout, as a newcomer's would
// before the module is published), builds with `go get` and `go build`,
// and the bot it builds answers /start in sandbox mode. docs/your-bot.md
// shows the same program.
func TestReadmeBotBuildsInANewModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	prog := readmeProgram(t)
	guide, err := os.ReadFile("../docs/your-bot.md")
	require.NoError(t, err)
	require.Contains(t, string(guide), prog, "docs/your-bot.md shows the README's program")

	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o644))
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	}
	run("mod", "init", "example.com/mybot")
	run("mod", "edit", "-replace", "github.com/dispatcher-bot/dispatcher="+root)
	// the README's `go get`, at the version the replace stands for (the
	// module proxy has no version of this checkout)
	run("get", "github.com/dispatcher-bot/dispatcher@v0.0.0")
	bin := filepath.Join(dir, "mybot")
	run("build", "-o", bin, ".")

	c := proctest.NewCluster(t, map[string]string{"BOT_TOKEN": "", "REDIS_URL": "", "SANDBOX": "true"})
	c.Bin = bin
	in := c.Start("mybot", nil)
	require.NotEmpty(t, in.Addr, "the bot reported its address:\n%s", in.Output())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body := []byte(`{"update_id":1,"message":{"message_id":1,"date":1,"text":"/start","chat":{"id":42,"type":"private"},` +
		`"from":{"id":42,"is_bot":false,"first_name":"Ann"}}}`)
	require.True(t, proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		code, _, err := in.Post(ctx, "/webhook", body)
		return err == nil && code == http.StatusOK
	}), "the webhook took the update")
	var texts []string
	require.True(t, proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get(in.URL("/sandbox/messages"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var got struct {
			Messages []struct {
				Params map[string]any `json:"params"`
			} `json:"messages"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		texts = texts[:0]
		for _, m := range got.Messages {
			if s, ok := m.Params["text"].(string); ok {
				texts = append(texts, s)
			}
		}
		return len(texts) > 0
	}), "the bot answered:\n%s", in.Output())
	require.Equal(t, []string{"Hello! Send me anything."}, texts)
}
