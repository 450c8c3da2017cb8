package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves Compose's ${NAME}, ${NAME:-default} and
// ${NAME:?error} against a host environment that has only the secrets.
func interpolate(s string) string {
	host := map[string]string{"BOT_TOKEN": testToken, "WEBHOOK_SECRET": testSecret}
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		if v, ok := host[sub[1]]; ok {
			return v
		}
		if strings.HasSuffix(sub[2], "-") {
			return sub[3]
		}
		return ""
	})
}

func TestCompose(t *testing.T) {
	doc := yamlDoc(t, "docker-compose.yml")
	services := mapOf(t, doc["services"], "services")
	replicas := 0
	var cfg config.Config
	for name, raw := range services {
		svc := mapOf(t, raw, name)
		if !isDispatcherService(svc) {
			continue
		}
		env := map[string]string{}
		switch e := svc["environment"].(type) {
		case map[string]any:
			for k, v := range e {
				env[k] = interpolate(str(v))
			}
		case []any:
			for _, kv := range e {
				k, v, _ := strings.Cut(str(kv), "=")
				env[k] = interpolate(v)
			}
		default:
			t.Fatalf("service %s has no environment", name)
		}
		require.Contains(t, env, "BOT_TOKEN", "service %s", name)
		require.Contains(t, env, "WEBHOOK_SECRET", "service %s", name)
		cfg = checkEnv(t, "docker-compose.yml service "+name, env)
		checkMemLimit(t, "docker-compose.yml service "+name, env, composeMemLimit(t, svc, name))

		n := 1
		if d, ok := svc["deploy"].(map[string]any); ok && d["replicas"] != nil {
			n = intOf(t, d["replicas"], name+".deploy.replicas")
		}
		replicas += n
		if n > 1 {
			require.NotContains(t, env, "INSTANCE_ID", "service %s: replicas would share one INSTANCE_ID", name)
			require.Nil(t, svc["container_name"], "service %s: container_name prevents replicas", name)
		}

		grace, err := time.ParseDuration(str(svc["stop_grace_period"]))
		require.NoError(t, err, "service %s: stop_grace_period", name)
		require.Greater(t, grace, cfg.ShutdownTimeout, "service %s: stop_grace_period must exceed SHUTDOWN_TIMEOUT", name)
		require.NotNil(t, svc["healthcheck"], "service %s: no healthcheck", name)
	}
	require.Equal(t, 3, replicas, "three dispatcher replicas")

	redis := mapOf(t, services["redis"], "redis")
	cmd := strings.Join(strSlice(redis["command"]), " ")
	require.Contains(t, cmd, "--appendonly yes")
	require.Contains(t, cmd, "--appendfsync everysec")
	require.NotEmpty(t, redis["volumes"], "redis: AOF needs a volume")
	require.NotNil(t, redis["healthcheck"])
	// A full Redis must answer errors (503), not grow until it is killed:
	// maxmemory with noeviction, and room above it in the container for the
	// AOF rewrite's fork and fragmentation.
	require.Contains(t, cmd, "--maxmemory-policy noeviction")
	maxmem := regexp.MustCompile(`--maxmemory (\S+)`).FindStringSubmatch(cmd)
	require.NotNil(t, maxmem, "redis: no --maxmemory: noeviction never refuses anything")
	redisLimit := composeMemLimit(t, redis, "redis")
	require.LessOrEqual(t, memQuantity(t, maxmem[1])*3/2, redisLimit, "redis: the container limit must leave half of maxmemory above it")

	nginx := mapOf(t, services["nginx"], "nginx")
	require.NotNil(t, nginx["healthcheck"])
	composeMemLimit(t, nginx, "nginx")
	require.Contains(t, strings.Join(strSlice(nginx["volumes"]), " "), "./nginx.conf:")
	checkNginx(t, cfg)
}

func isDispatcherService(svc map[string]any) bool {
	if b, ok := svc["build"].(map[string]any); ok && strings.HasSuffix(str(b["dockerfile"]), "deploy/Dockerfile") {
		return true
	}
	return strings.HasPrefix(str(svc["image"]), "dispatcher")
}

func strSlice(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = str(x)
	}
	return out
}

// checkNginx compares the load balancer with the dispatcher's settings: it
// publishes the webhook path, proxies to the listen port and passes the
// secret header.
func checkNginx(t *testing.T, cfg config.Config) {
	t.Helper()
	data, err := os.ReadFile("nginx.conf")
	require.NoError(t, err)
	conf := string(data)
	require.Contains(t, conf, "location = "+cfg.WebhookPath+" {", "nginx must route WEBHOOK_PATH")
	_, port, _ := strings.Cut(cfg.ListenAddr, ":")
	require.Regexp(t, `\bdispatcher:`+regexp.QuoteMeta(port)+`\b`, conf, "nginx upstream must use the LISTEN_ADDR port")
	require.Contains(t, strings.ToLower(conf), "x-telegram-bot-api-secret-token")
	for _, ops := range []string{"/metrics", "/readyz", "/healthz"} {
		require.NotContains(t, conf, "location = "+ops, "nginx must not publish %s", ops)
	}
}

// composeMemLimit returns a service's deploy.resources.limits.memory in bytes.
func composeMemLimit(t *testing.T, svc map[string]any, name string) int64 {
	t.Helper()
	d, _ := svc["deploy"].(map[string]any)
	r, _ := d["resources"].(map[string]any)
	l, _ := r["limits"].(map[string]any)
	require.NotEmpty(t, str(l["memory"]), "service %s: no deploy.resources.limits.memory", name)
	return memQuantity(t, str(l["memory"]))
}
