package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
	checkMemLimit(t, "kubernetes Deployment", env, memQuantity(t, str(mapOf(t, res["limits"], "limits")["memory"])))

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
