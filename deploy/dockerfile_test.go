package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type dockerInstr struct {
	cmd, args string
}

// dockerInstructions splits a Dockerfile into instructions, joining
// continuation lines and dropping comments.
func dockerInstructions(t *testing.T, path string) []dockerInstr {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []dockerInstr
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		cur.Reset()
		if cmd != "" {
			out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := dockerInstructions(t, "Dockerfile")
	last := 0
	froms := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last, froms = i, froms+1
		}
	}
	require.GreaterOrEqual(t, froms, 2, "multi-stage build")
	require.True(t, strings.HasPrefix(ins[0].args, "golang:1.26"), "builder on golang:1.26, got %q", ins[0].args)

	var copied []string
	var build string
	for _, in := range ins[:last] {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			copied = append(copied, f[:len(f)-1]...)
		case "RUN":
			if strings.Contains(in.args, "./cmd/dispatcher") {
				build = in.args
			}
		}
	}
	require.Contains(t, build, "-trimpath")
	require.Contains(t, build, "-X "+versionPkg+".version=")
	require.Contains(t, build, "-X "+versionPkg+".commit=")
	checkVersionVars(t)
	checkCopiedPackages(t, copied)

	final := map[string]string{}
	env := map[string]string{}
	for _, in := range ins[last+1:] {
		final[in.cmd] = in.args
		if in.cmd == "ENV" {
			if !strings.Contains(in.args, "=") { // legacy form: ENV KEY value
				k, v, _ := strings.Cut(in.args, " ")
				env[k] = v
				continue
			}
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	for k := range env {
		require.True(t, knownVars()[k], "Dockerfile sets ENV %s, which the dispatcher does not read", k)
	}
	user := final["USER"]
	require.NotEmpty(t, user, "final stage needs a USER")
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "USER must be numeric so runAsNonRoot can verify it")
	require.NotZero(t, n, "USER must not be root")
	require.Equal(t, `["/dispatcher"]`, final["ENTRYPOINT"])
	require.Equal(t, `["serve"]`, final["CMD"])
	require.Equal(t, "8080", final["EXPOSE"])
	require.Contains(t, ins[last].args, "nonroot", "a distroless nonroot final image")
}

// versionPkg is the one version source the -X flags set.
const versionPkg = "github.com/dispatcher-bot/dispatcher/internal/version"

// checkVersionVars asserts that internal/version still declares the
// variables the -X flags set (a missing one is silently ignored by the
// linker).
func checkVersionVars(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("../internal/version/version.go")
	require.NoError(t, err)
	for _, v := range []string{"version", "commit"} {
		require.Regexp(t, `(?m)^\s*`+v+`\s+string$`, string(data), "internal/version must declare var %s for -ldflags -X %s.%s", v, versionPkg, v)
	}
}

// checkCopiedPackages asserts that the Dockerfile copies every directory of
// this module that cmd/dispatcher is built from.
func checkCopiedPackages(t *testing.T, copied []string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the packages of cmd/dispatcher")
	}
	out, err := exec.Command("go", "list", "-e", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}",
		"../cmd/dispatcher", "./healthcheck").Output()
	require.NoError(t, err)
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		ok := false
		for _, c := range copied {
			c = strings.TrimSuffix(strings.TrimPrefix(c, "./"), "/")
			if rel == c || strings.HasPrefix(rel, c+"/") || (rel == "." && c == "*.go") {
				ok = true
			}
		}
		require.True(t, ok, "the Dockerfile does not COPY %s, which cmd/dispatcher needs", rel)
	}
}
