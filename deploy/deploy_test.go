// Package deploy_test checks the deployment files of deploy/ without running
// them (no Docker engine or cluster is needed): every file parses, every
// environment variable a file sets for the dispatcher is one the config
// package declares and its value passes config validation, grace periods
// outlast SHUTDOWN_TIMEOUT, and the monitoring files name only metrics that
// internal/metrics registers (monitoring_test.go). It guards against drift
// between the code and the deployments; it does not prove that a platform
// accepts a file.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

// Placeholders for values a deploy file takes from outside (host environment,
// platform secrets): shaped so that config validation accepts them.
const (
	testToken  = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	testSecret = "test-webhook-secret"
	testRedis  = "redis://redis.internal:6379/0"
)

// deployFiles lists every file under deploy/ (the package directory).
func deployFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, filepath.ToSlash(path))
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestEveryFileParses reads every file of deploy/ and parses it by kind. A
// file of a kind this test does not know fails it, so a new file comes with
// a check.
func TestEveryFileParses(t *testing.T) {
	for _, path := range deployFiles(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, bytes.TrimSpace(data), "empty file")
			base := filepath.Base(path)
			switch {
			case strings.HasSuffix(path, ".yml"), strings.HasSuffix(path, ".yaml"):
				docs := yamlDocs(t, path)
				require.NotEmpty(t, docs, "no YAML document")
			case strings.HasSuffix(path, ".json"):
				var v any
				require.NoError(t, json.Unmarshal(data, &v))
			case base == "Dockerfile":
				require.NotEmpty(t, dockerInstructions(t, path))
			case strings.HasSuffix(path, ".conf"):
				checkBraces(t, string(data))
			case strings.HasSuffix(path, ".go"), strings.HasSuffix(path, ".md"):
				// Go is checked by the compiler; Markdown is prose.
			default:
				t.Fatalf("no check for %s: add one to TestEveryFileParses", path)
			}
		})
	}
}

// yamlDocs decodes every document of a YAML file into generic values.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s does not parse as YAML", path)
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

func yamlDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	docs := yamlDocs(t, path)
	require.Len(t, docs, 1, "%s: want one YAML document", path)
	return docs[0]
}

// checkBraces is the syntax check available for nginx.conf without nginx:
// braces balance outside comments and quoted strings.
func checkBraces(t *testing.T, text string) {
	t.Helper()
	depth := 0
	for n, line := range strings.Split(text, "\n") {
		inQuote := byte(0)
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case inQuote != 0:
				if c == inQuote {
					inQuote = 0
				}
			case c == '"' || c == '\'':
				inQuote = c
			case c == '#':
				i = len(line)
			case c == '{':
				depth++
			case c == '}':
				depth--
				require.GreaterOrEqual(t, depth, 0, "line %d: unbalanced }", n+1)
			}
		}
	}
	require.Zero(t, depth, "unbalanced braces")
}

// knownVars is the set of environment variables the dispatcher reads.
func knownVars() map[string]bool {
	m := map[string]bool{}
	for _, v := range config.Vars() {
		m[v.Env] = true
	}
	return m
}

// checkEnv asserts that every variable of env is one the dispatcher knows and
// that the whole set passes config validation, and returns the config.
func checkEnv(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	known := knownVars()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		require.True(t, known[k], "%s sets %s, which the dispatcher does not read (internal/config Vars)", where, k)
	}
	cfg, err := config.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err, "%s", where)
	require.NoError(t, cfg.Validate(), "%s", where)
	// Several replicas need a shared Redis: the embedded one is per process.
	require.False(t, cfg.Embedded(), "%s: no REDIS_URL, every instance would run its own Redis", where)
	require.False(t, cfg.Sandbox, "%s: runs in sandbox mode", where)
	return cfg
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func mapOf(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s: want a mapping, got %T", what, v)
	return m
}

func listOf(t *testing.T, v any, what string) []any {
	t.Helper()
	l, ok := v.([]any)
	require.True(t, ok, "%s: want a list, got %T", what, v)
	return l
}

func intOf(t *testing.T, v any, what string) int {
	t.Helper()
	n, ok := v.(int)
	require.True(t, ok, "%s: want an integer, got %T (%v)", what, v, v)
	return n
}

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

	nginx := mapOf(t, services["nginx"], "nginx")
	require.NotNil(t, nginx["healthcheck"])
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
	require.Regexp(t, `server dispatcher:`+regexp.QuoteMeta(port)+`\b`, conf, "nginx upstream must use the LISTEN_ADDR port")
	require.Contains(t, strings.ToLower(conf), "x-telegram-bot-api-secret-token")
	for _, ops := range []string{"/metrics", "/readyz", "/healthz"} {
		require.NotContains(t, conf, "location = "+ops, "nginx must not publish %s", ops)
	}
}

// kube loads every manifest of deploy/kubernetes, by kind and name.
func kube(t *testing.T) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			kind := str(doc["kind"])
			require.NotEmpty(t, kind, "%s: no kind", f)
			if kind == "Kustomization" {
				continue
			}
			name := str(mapOf(t, doc["metadata"], f+" metadata")["name"])
			objs[kind+"/"+name] = doc
		}
	}
	return objs
}

func TestKubernetes(t *testing.T) {
	objs := kube(t)
	dep := objs["Deployment/dispatcher"]
	require.NotNil(t, dep, "Deployment/dispatcher")
	spec := mapOf(t, dep["spec"], "spec")
	require.Equal(t, 3, intOf(t, spec["replicas"], "replicas"))
	ru := mapOf(t, mapOf(t, spec["strategy"], "strategy")["rollingUpdate"], "rollingUpdate")
	require.Equal(t, 0, intOf(t, ru["maxUnavailable"], "maxUnavailable"))
	require.Equal(t, 1, intOf(t, ru["maxSurge"], "maxSurge"))

	pod := mapOf(t, mapOf(t, spec["template"], "template")["spec"], "pod spec")
	containers := listOf(t, pod["containers"], "containers")
	require.Len(t, containers, 1)
	c := mapOf(t, containers[0], "container")

	secret := mapOf(t, objs["Secret/dispatcher-secrets"]["stringData"], "secret.example.yaml stringData")
	env := map[string]string{}
	for _, ef := range listOf(t, c["envFrom"], "envFrom") {
		ref := mapOf(t, ef, "envFrom")
		if cm, ok := ref["configMapRef"].(map[string]any); ok {
			obj := objs["ConfigMap/"+str(cm["name"])]
			require.NotNil(t, obj, "envFrom names ConfigMap %v, not in deploy/kubernetes", cm["name"])
			for k, v := range mapOf(t, obj["data"], "ConfigMap data") {
				env[k] = str(v)
			}
		}
		if sr, ok := ref["secretRef"].(map[string]any); ok {
			require.Equal(t, "dispatcher-secrets", str(sr["name"]))
			for k, v := range secret {
				env[k] = str(v)
			}
		}
	}
	for _, e := range listOf(t, c["env"], "env") {
		ev := mapOf(t, e, "env")
		name := str(ev["name"])
		switch {
		case ev["valueFrom"] == nil:
			env[name] = str(ev["value"])
		case mapOf(t, ev["valueFrom"], name)["secretKeyRef"] != nil:
			ref := mapOf(t, mapOf(t, ev["valueFrom"], name)["secretKeyRef"], name)
			require.Equal(t, "dispatcher-secrets", str(ref["name"]), "env %s", name)
			v, ok := secret[str(ref["key"])]
			require.True(t, ok, "env %s reads key %v, missing from secret.example.yaml", name, ref["key"])
			env[name] = str(v)
		case mapOf(t, ev["valueFrom"], name)["fieldRef"] != nil:
			env[name] = "dispatcher-5d8f7c9b4-x2x7q" // a pod name
		default:
			t.Fatalf("env %s: unexpected valueFrom %v", name, ev["valueFrom"])
		}
	}
	for k := range secret {
		require.True(t, knownVars()[k], "secret.example.yaml key %s is not a dispatcher variable", k)
	}
	require.Contains(t, env, "INSTANCE_ID", "INSTANCE_ID from the pod name")
	env["BOT_TOKEN"] = testToken // the example holds a placeholder on purpose
	cfg := checkEnv(t, "kubernetes Deployment", env)

	// Grace: preStop sleep + SHUTDOWN_TIMEOUT must fit in the grace period.
	grace := time.Duration(intOf(t, pod["terminationGracePeriodSeconds"], "terminationGracePeriodSeconds")) * time.Second
	preStop := mapOf(t, mapOf(t, c["lifecycle"], "lifecycle")["preStop"], "preStop")
	require.Nil(t, preStop["exec"], "the image has no shell: use the sleep action")
	sleep := time.Duration(intOf(t, mapOf(t, preStop["sleep"], "preStop.sleep")["seconds"], "sleep.seconds")) * time.Second
	require.Greater(t, grace, sleep+cfg.ShutdownTimeout,
		"terminationGracePeriodSeconds %s must exceed preStop %s + SHUTDOWN_TIMEOUT %s", grace, sleep, cfg.ShutdownTimeout)

	_, port, _ := strings.Cut(cfg.ListenAddr, ":")
	ports := listOf(t, c["ports"], "ports")
	require.Equal(t, port, str(mapOf(t, ports[0], "port")["containerPort"]), "containerPort matches LISTEN_ADDR")
	probe := func(kind string) string {
		return str(mapOf(t, mapOf(t, c[kind], kind)["httpGet"], kind+".httpGet")["path"])
	}
	require.Equal(t, "/readyz", probe("readinessProbe"))
	require.Equal(t, "/healthz", probe("livenessProbe"))

	sc := mapOf(t, c["securityContext"], "securityContext")
	require.Equal(t, true, sc["readOnlyRootFilesystem"])
	require.Equal(t, false, sc["allowPrivilegeEscalation"])
	psc := mapOf(t, pod["securityContext"], "pod securityContext")
	require.Equal(t, true, psc["runAsNonRoot"])
	require.NotZero(t, intOf(t, psc["runAsUser"], "runAsUser"))
	res := mapOf(t, c["resources"], "resources")
	require.NotNil(t, res["requests"])
	require.NotNil(t, res["limits"])

	// Service, PDB and their selectors.
	labels := mapOf(t, mapOf(t, mapOf(t, spec["template"], "template")["metadata"], "metadata")["labels"], "labels")
	svc := objs["Service/dispatcher"]
	require.NotNil(t, svc, "Service/dispatcher")
	for k, v := range mapOf(t, mapOf(t, svc["spec"], "service spec")["selector"], "selector") {
		require.Equal(t, v, labels[k], "Service selector %s", k)
	}
	var pdb map[string]any
	for k, o := range objs {
		if strings.HasPrefix(k, "PodDisruptionBudget/") {
			pdb = mapOf(t, o["spec"], "pdb spec")
		}
	}
	require.NotNil(t, pdb, "a PodDisruptionBudget")
	require.True(t, pdb["minAvailable"] != nil || pdb["maxUnavailable"] != nil)
	for k, v := range mapOf(t, mapOf(t, pdb["selector"], "pdb selector")["matchLabels"], "matchLabels") {
		require.Equal(t, v, labels[k], "PDB selector %s", k)
	}
}

func TestKustomization(t *testing.T) {
	k := yamlDoc(t, "kubernetes/kustomization.yaml")
	listed := map[string]bool{}
	for _, r := range listOf(t, k["resources"], "resources") {
		name := str(r)
		_, err := os.Stat(filepath.Join("kubernetes", name))
		require.NoError(t, err, "kustomization lists %s", name)
		listed[name] = true
	}
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" || strings.Contains(base, ".example.") {
			require.False(t, listed[base], "%s must not be applied", base)
			continue
		}
		require.True(t, listed[base], "%s is not listed in kustomization.yaml", base)
	}
}

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
		cfg := checkEnv(t, "render.yaml service "+name, env)
		delay := time.Duration(intOf(t, svc["maxShutdownDelaySeconds"], "maxShutdownDelaySeconds")) * time.Second
		require.Greater(t, delay, cfg.ShutdownTimeout, "maxShutdownDelaySeconds must exceed SHUTDOWN_TIMEOUT")
	}
	require.True(t, found, "no Docker service in render.yaml")
}

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
	require.Contains(t, build, "-X main.version=")
	require.Contains(t, build, "-X main.commit=")
	checkMainVars(t)
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

// checkMainVars asserts that cmd/dispatcher still declares the variables the
// -X flags set (a missing one is silently ignored by the linker).
func checkMainVars(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob("../cmd/dispatcher/*.go")
	require.NoError(t, err)
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		src.Write(data)
	}
	for _, v := range []string{"version", "commit"} {
		require.Regexp(t, `(?m)^\s*`+v+`\s+=\s+"`, src.String(), "cmd/dispatcher must declare var %s for -ldflags -X main.%s", v, v)
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
			if rel == c || strings.HasPrefix(rel, c+"/") {
				ok = true
			}
		}
		require.True(t, ok, "the Dockerfile does not COPY %s, which cmd/dispatcher needs", rel)
	}
}
