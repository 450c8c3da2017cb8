package deploy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	doc := yamlDoc(t, "render.yaml")
	services := listOf(t, doc["services"], "services")
	names := map[string]string{}
	for _, s := range services {
		svc := mapOf(t, s, "service")
		names[str(svc["name"])] = str(svc["type"])
	}
	found := false
	for _, s := range services {
		svc := mapOf(t, s, "service")
		if str(svc["dockerfilePath"]) == "" {
			continue
		}
		found = true
		name := str(svc["name"])
		require.Equal(t, "./deploy/Dockerfile", str(svc["dockerfilePath"]))
		require.Equal(t, "docker", str(svc["runtime"]))
		require.Equal(t, 3, intOf(t, svc["numInstances"], "numInstances"))
		require.Equal(t, "/healthz", str(svc["healthCheckPath"]))
		env := map[string]string{}
		for _, e := range listOf(t, svc["envVars"], "envVars") {
			ev := mapOf(t, e, "envVar")
			key := str(ev["key"])
			switch {
			case ev["sync"] == false:
				env[key] = map[string]string{"BOT_TOKEN": testToken, "WEBHOOK_SECRET": testSecret}[key]
				require.NotEmpty(t, env[key], "%s: sync:false for an unexpected key", key)
			case ev["fromService"] != nil:
				from := mapOf(t, ev["fromService"], key)
				require.Equal(t, str(from["type"]), names[str(from["name"])], "%s: fromService %v is not in render.yaml", key, from["name"])
				env[key] = testRedis
			default:
				require.Nil(t, ev["generateValue"], "%s: a generated value", key)
				env[key] = str(ev["value"])
			}
		}
		for _, secretKey := range []string{"BOT_TOKEN", "WEBHOOK_SECRET"} {
			require.Contains(t, env, secretKey)
		}
		// Only LISTEN_ADDR's port is public (PORT); the ops endpoints are on
		// OPS_LISTEN_ADDR, on Render's private network only.
		_, listenPort, _ := strings.Cut(env["LISTEN_ADDR"], ":")
		require.Equal(t, listenPort, env["PORT"], "PORT (the public port) is LISTEN_ADDR's")
		require.NotEmpty(t, env["OPS_LISTEN_ADDR"], "ops endpoints off the public port")
		delete(env, "PORT")
		cfg := checkEnv(t, "render.yaml service "+name, env)
		// Render's plans (render.com/pricing): the memory of an instance.
		planMemory := map[string]int64{"starter": 512 << 20, "standard": 2 << 30, "pro": 4 << 30}[str(svc["plan"])]
		checkMemLimit(t, "render.yaml service "+name, env, planMemory)
		delay := time.Duration(intOf(t, svc["maxShutdownDelaySeconds"], "maxShutdownDelaySeconds")) * time.Second
		require.Greater(t, delay, cfg.ShutdownTimeout, "maxShutdownDelaySeconds must exceed SHUTDOWN_TIMEOUT")
	}
	require.True(t, found, "no Docker service in render.yaml")
}
