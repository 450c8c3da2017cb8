package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestImage builds deploy/Dockerfile and runs the image: the instance
// starts (sandbox mode, embedded Redis), its /healthcheck probe succeeds on
// /readyz and fails on a path that answers 404, and `dispatcher version`
// carries the build's version. It needs a container runtime (docker) and
// the base images; without them it is skipped with the reason, which `make
// test` prints (it runs this test on its own, verbosely, with
// DISPATCHER_IMAGE_TEST=1, so that a skip is seen, not passed silently).
func TestImage(t *testing.T) {
	if os.Getenv("DISPATCHER_IMAGE_TEST") == "" {
		t.Skip("run on its own by `make test` (DISPATCHER_IMAGE_TEST=1), which shows whether it ran")
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no container runtime (no docker command): the image is NOT built and its healthcheck NOT run")
	}
	if out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no container runtime (docker info: %s): the image is NOT built and its healthcheck NOT run",
			strings.TrimSpace(lastLine(string(out))))
	}
	for _, base := range []string{"golang:1.26", "gcr.io/distroless/static-debian12:nonroot"} {
		if exec.Command(docker, "image", "inspect", base).Run() == nil {
			continue
		}
		if out, err := exec.Command(docker, "pull", "-q", base).CombinedOutput(); err != nil {
			t.Skipf("base image %s can be neither found nor pulled (%s): the image is NOT built", base, strings.TrimSpace(lastLine(string(out))))
		}
	}
	tag := fmt.Sprintf("dispatcher-test:%d", time.Now().UnixNano())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(docker, args...).CombinedOutput()
		require.NoError(t, err, "docker %s:\n%s", strings.Join(args, " "), out)
		return strings.TrimSpace(string(out))
	}
	build := exec.Command(docker, "build", "-f", "deploy/Dockerfile", "-t", tag, "--build-arg", "VERSION=image-test", "--build-arg", "COMMIT=test", ".")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "docker build:\n%s", out)
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "-f", tag).Run() })

	id := run("run", "-d", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", tag, "serve")
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command(docker, "logs", id).CombinedOutput()
			t.Logf("container logs:\n%s", logs)
		}
		_ = exec.Command(docker, "rm", "-f", id).Run()
	})
	healthy := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) { // polling the container's start
		if exec.Command(docker, "exec", id, "/healthcheck", "http://127.0.0.1:8080/readyz").Run() == nil {
			healthy = true
			break
		}
	}
	require.True(t, healthy, "the image's /healthcheck never succeeded on /readyz")
	err = exec.Command(docker, "exec", id, "/healthcheck", "http://127.0.0.1:8080/no-such-page").Run()
	require.Error(t, err, "/healthcheck must fail on a 404")
	require.Contains(t, run("exec", id, "/dispatcher", "version"), "image-test")
	require.Equal(t, "65532:65532", run("inspect", "--format", "{{.Config.User}}", tag))
	t.Logf("image %s built; healthcheck passed on /readyz and failed on a 404", tag)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
