// Package kubetest checks the Kubernetes files of deploy/ against the real
// types: the Helm chart deploy/helm/dispatcher is linted and rendered with
// Helm's own packages (what `helm lint` and `helm template` run), and every
// object it renders, like every manifest of deploy/kubernetes, is decoded
// strictly (unknown or duplicate fields fail) into its k8s.io/api or
// Prometheus Operator type. It is a module of its own so that Helm and the
// Kubernetes API types stay out of the dispatcher's go.mod; `make test` runs
// it.
package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

const chartDir = "../helm/dispatcher"

// kube is the Kubernetes version the chart is rendered and linted for (its
// kubeVersion is >= 1.30: the preStop sleep action).
var kube = chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}

// newObject returns an empty typed object for apiVersion/kind.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	}
	return nil, false
}

// decodeStrict decodes every YAML document of text into its typed object,
// keyed "Kind/name".
func decodeStrict(t *testing.T, where, text string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(text, -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head), "%s document %d", where, i)
		if head.Kind == "Kustomization" {
			continue
		}
		obj, ok := newObject(head.APIVersion, head.Kind)
		require.True(t, ok, "%s: no type for %s %s: add it to newObject", where, head.APIVersion, head.Kind)
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s: %s/%s does not decode strictly as %T", where, head.Kind, head.Metadata.Name, obj)
		key := head.Kind + "/" + head.Metadata.Name
		require.NotContains(t, out, key, "%s: %s twice", where, key)
		out[key] = obj
	}
	return out
}

// render renders the chart as `helm template bot deploy/helm/dispatcher
// -n bots` with vals over values.yaml.
func render(t *testing.T, vals map[string]any) (map[string]any, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = kube
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "bot", Namespace: "bots", IsInstall: true}, caps)
	require.NoError(t, err)
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var all bytes.Buffer
	for _, name := range names {
		if strings.HasSuffix(name, ".yaml") {
			fmt.Fprintf(&all, "---\n%s\n", files[name])
		}
	}
	return decodeStrict(t, "rendered chart", all.String()), nil
}

func existingSecret() map[string]any {
	return map[string]any{"secrets": map[string]any{"existingSecret": "dispatcher-secrets"}}
}

// everything turns every optional object on.
func everything() map[string]any {
	return map[string]any{
		"secrets": map[string]any{"create": true, "botToken": "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"webhookSecret": "s3cret", "redisUrl": "rediss://default:pw@redis.bots:6379/0"},
		"ingress":        map[string]any{"enabled": true, "className": "nginx", "tls": []any{map[string]any{"secretName": "bot-tls", "hosts": []any{"bot.example.com"}}}},
		"autoscaling":    map[string]any{"enabled": true},
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}},
		"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}},
		"networkPolicy":  map[string]any{"egress": map[string]any{"enabled": true, "to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}}},
		"extraEnv":       []any{map[string]any{"name": "GOMAXPROCS", "value": "1"}},
	}
}

func TestChartLints(t *testing.T) {
	for name, vals := range map[string]map[string]any{"defaults": existingSecret(), "everything": everything()} {
		l := lint.AllWithKubeVersion(chartDir, vals, "bots", &kube)
		for _, m := range l.Messages {
			require.Less(t, m.Severity, support.WarningSev, "helm lint (%s): %s", name, m)
		}
	}
}

func TestChartDefaults(t *testing.T) {
	objs, err := render(t, existingSecret())
	require.NoError(t, err)
	var kinds []string
	for k := range objs {
		kinds = append(kinds, strings.Split(k, "/")[0])
	}
	sort.Strings(kinds)
	// HPA, Ingress, Secret and the Operator objects are off by default.
	require.Equal(t, []string{"ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"}, kinds)
	dep := objs["Deployment/bot-dispatcher"].(*appsv1.Deployment)
	require.NotNil(t, dep.Spec.Replicas, "without the HPA the chart sets replicas")
	require.EqualValues(t, 3, *dep.Spec.Replicas)
	checkDeployment(t, objs, "dispatcher-secrets")
}

func TestChartEverything(t *testing.T) {
	objs, err := render(t, everything())
	require.NoError(t, err)
	for _, k := range []string{"Secret/bot-dispatcher", "Ingress/bot-dispatcher", "HorizontalPodAutoscaler/bot-dispatcher",
		"ServiceMonitor/bot-dispatcher", "PrometheusRule/bot-dispatcher"} {
		require.Contains(t, objs, k)
	}
	dep := objs["Deployment/bot-dispatcher"].(*appsv1.Deployment)
	require.Nil(t, dep.Spec.Replicas, "with the HPA on, the Deployment leaves replicas to it")
	checkDeployment(t, objs, "bot-dispatcher")

	sec := objs["Secret/bot-dispatcher"].(*corev1.Secret)
	require.ElementsMatch(t, []string{"BOT_TOKEN", "WEBHOOK_SECRET", "REDIS_URL"}, keys(sec.StringData))

	ing := objs["Ingress/bot-dispatcher"].(*networkingv1.Ingress)
	require.Len(t, ing.Spec.Rules, 1)
	paths := ing.Spec.Rules[0].HTTP.Paths
	require.Len(t, paths, 1, "only the webhook is published")
	require.Equal(t, "/webhook", paths[0].Path)
	require.Equal(t, networkingv1.PathTypeExact, *paths[0].PathType)

	// The ServiceMonitor scrapes the Service's pods on the http port.
	svc := objs["Service/bot-dispatcher"].(*corev1.Service)
	sm := objs["ServiceMonitor/bot-dispatcher"].(*monitoringv1.ServiceMonitor)
	for k, v := range sm.Spec.Selector.MatchLabels {
		require.Equal(t, v, svc.Labels[k], "ServiceMonitor selector %s", k)
	}
	require.Equal(t, "ops", sm.Spec.Endpoints[0].Port, "OPS_LISTEN_ADDR: metrics on the ops port")
	require.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	require.Equal(t, "prometheus", sm.Labels["release"])

	// The PrometheusRule holds exactly the groups of alerts.yml.
	pr := objs["PrometheusRule/bot-dispatcher"].(*monitoringv1.PrometheusRule)
	src, err := os.ReadFile("../prometheus/alerts.yml")
	require.NoError(t, err)
	var want monitoringv1.PrometheusRuleSpec
	require.NoError(t, yaml.UnmarshalStrict(src, &want), "alerts.yml decodes as a PrometheusRule spec")
	require.Equal(t, want, pr.Spec)
	var alerts int
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Annotations["runbook_url"], "%s", r.Alert)
			alerts++
		}
	}
	require.GreaterOrEqual(t, alerts, 13)

	hpa := objs["HorizontalPodAutoscaler/bot-dispatcher"].(*autoscalingv2.HorizontalPodAutoscaler)
	require.Equal(t, "bot-dispatcher", hpa.Spec.ScaleTargetRef.Name)

	np := objs["NetworkPolicy/bot-dispatcher"].(*networkingv1.NetworkPolicy)
	require.Contains(t, np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

func TestChartRunbookBase(t *testing.T) {
	vals := everything()
	vals["prometheusRule"] = map[string]any{"enabled": true, "runbookBaseURL": "https://wiki.example.com/dispatcher"}
	objs, err := render(t, vals)
	require.NoError(t, err)
	pr := objs["PrometheusRule/bot-dispatcher"].(*monitoringv1.PrometheusRule)
	url := pr.Spec.Groups[0].Rules[0].Annotations["runbook_url"]
	require.True(t, strings.HasPrefix(url, "https://wiki.example.com/dispatcher#"), url)
}

func TestChartRefusesMissingSettings(t *testing.T) {
	_, err := render(t, map[string]any{})
	require.ErrorContains(t, err, "secrets.existingSecret", "no Secret named nor created")
	vals := existingSecret()
	vals["resources"] = map[string]any{"limits": map[string]any{"cpu": "1", "memory": nil}}
	_, err = render(t, vals)
	require.ErrorContains(t, err, "resources.limits.memory", "no memory limit to set GOMEMLIMIT from")
	vals["goMemLimit"] = "200MiB"
	objs, err := render(t, vals)
	require.NoError(t, err)
	require.Equal(t, "200MiB", env(objs["Deployment/bot-dispatcher"].(*appsv1.Deployment))["GOMEMLIMIT"])
}

// TestChartHasEverySetting: values.yaml's config holds every variable of
// internal/config but the secrets (BOT_TOKEN, WEBHOOK_SECRET, REDIS_URL and
// the optional Redis passwords) and INSTANCE_ID, which come from the Secret
// and the pod's name.
func TestChartHasEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	var vals struct {
		Config  map[string]any `json:"config"`
		Secrets struct {
			OptionalKeys map[string]string `json:"optionalKeys"`
		} `json:"secrets"`
	}
	require.NoError(t, yaml.Unmarshal(b, &vals))
	// the three a deployment needs come from the Secret's keys, the pod's
	// name is INSTANCE_ID, and every other secret setting is an optional key
	// of the Secret
	fromElsewhere := map[string]bool{"BOT_TOKEN": true, "WEBHOOK_SECRET": true, "REDIS_URL": true, "INSTANCE_ID": true}
	known := map[string]bool{}
	for _, v := range config.Vars() {
		known[v.Env] = true
		switch {
		case fromElsewhere[v.Env]:
		case v.Secret:
			require.Contains(t, vals.Secrets.OptionalKeys, v.Env, "values.yaml secrets.optionalKeys lacks %s", v.Env)
			fromElsewhere[v.Env] = true
		default:
			require.Contains(t, vals.Config, v.Env, "values.yaml config lacks %s", v.Env)
		}
	}
	for k := range vals.Config {
		require.True(t, known[k], "values.yaml config sets %s, which the dispatcher does not read", k)
		require.False(t, fromElsewhere[k], "values.yaml config sets %s, which comes from the Secret or the pod", k)
	}
}

// TestPlainManifestsDecode: deploy/kubernetes decodes strictly too.
func TestPlainManifestsDecode(t *testing.T) {
	files, err := filepath.Glob("../kubernetes/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		n += len(decodeStrict(t, f, string(b)))
	}
	require.GreaterOrEqual(t, n, 5)
}

// checkDeployment checks the pod against the dispatcher's configuration:
// every variable is one it reads and the set validates, the grace period
// covers the drain, GOMEMLIMIT is 90% of the limit, and the Service, PDB and
// NetworkPolicy select the pods.
func checkDeployment(t *testing.T, objs map[string]any, secretName string) {
	t.Helper()
	dep := objs["Deployment/bot-dispatcher"].(*appsv1.Deployment)
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	cm := objs["ConfigMap/bot-dispatcher"].(*corev1.ConfigMap)
	vars := env(dep)
	for _, ef := range c.EnvFrom {
		require.NotNil(t, ef.ConfigMapRef)
		require.Equal(t, cm.Name, ef.ConfigMapRef.Name)
		for k, v := range cm.Data {
			vars[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.SecretKeyRef != nil:
			require.Equal(t, secretName, e.ValueFrom.SecretKeyRef.Name, "env %s", e.Name)
			vars[e.Name] = map[string]string{"BOT_TOKEN": "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				"WEBHOOK_SECRET": "s3cret", "REDIS_URL": "redis://redis.bots:6379/0"}[e.Name]
		case e.ValueFrom.FieldRef != nil:
			require.Equal(t, "metadata.name", e.ValueFrom.FieldRef.FieldPath)
			vars[e.Name] = "bot-dispatcher-5d8f7c9b4-x2x7q"
		}
	}
	known := map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true} // the Go runtime's
	for _, v := range config.Vars() {
		known[v.Env] = true
	}
	for k := range vars {
		require.True(t, known[k], "the chart sets %s, which the dispatcher does not read", k)
	}
	cfg, err := config.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.False(t, cfg.Sandbox, "the chart runs a real bot")
	require.False(t, cfg.Embedded(), "the chart uses a shared Redis")

	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	require.Greater(t, grace, sleep+cfg.ShutdownTimeout, "grace period covers preStop and the drain")
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	// OPS_LISTEN_ADDR: the probes reach the ops port, which the container
	// declares at OPS_LISTEN_ADDR's port
	require.NotEmpty(t, cfg.OpsListenAddr, "the chart separates the ops endpoints")
	require.Equal(t, "ops", c.ReadinessProbe.HTTPGet.Port.String())
	require.Equal(t, "ops", c.LivenessProbe.HTTPGet.Port.String())
	_, opsPort, _ := strings.Cut(cfg.OpsListenAddr, ":")
	var declared bool
	for _, p := range c.Ports {
		if p.Name == "ops" {
			declared = fmt.Sprint(p.ContainerPort) == opsPort
		}
	}
	require.True(t, declared, "container port ops at OPS_LISTEN_ADDR's port %s", opsPort)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.False(t, *pod.AutomountServiceAccountToken)

	limit := c.Resources.Limits.Memory().Value()
	if vars["GOMEMLIMIT"] != "200MiB" {
		require.Equal(t, fmt.Sprint(limit*9/10), vars["GOMEMLIMIT"], "GOMEMLIMIT is 90%% of the memory limit")
	}

	podLabels := dep.Spec.Template.Labels
	svc := objs["Service/bot-dispatcher"].(*corev1.Service)
	for k, v := range svc.Spec.Selector {
		require.Equal(t, v, podLabels[k], "Service selector %s", k)
	}
	require.Equal(t, "http", svc.Spec.Ports[0].TargetPort.String())
	pdb := objs["PodDisruptionBudget/bot-dispatcher"].(*policyv1.PodDisruptionBudget)
	for k, v := range pdb.Spec.Selector.MatchLabels {
		require.Equal(t, v, podLabels[k], "PDB selector %s", k)
	}
	np := objs["NetworkPolicy/bot-dispatcher"].(*networkingv1.NetworkPolicy)
	for k, v := range np.Spec.PodSelector.MatchLabels {
		require.Equal(t, v, podLabels[k], "NetworkPolicy selector %s", k)
	}
	require.Equal(t, "http", np.Spec.Ingress[0].Ports[0].Port.String())
	sa := objs["ServiceAccount/bot-dispatcher"].(*corev1.ServiceAccount)
	require.Equal(t, sa.Name, pod.ServiceAccountName)
}

// env returns the plain values of the container's env.
func env(dep *appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
