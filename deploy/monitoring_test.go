package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

// registeredMetrics returns every series name internal/metrics exposes, with
// its label names: one child of each vector is created so that Gather lists
// it, and histograms and summaries expand to their _bucket, _sum and _count.
func registeredMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	m := metrics.NewWith(prometheus.NewRegistry(), metrics.Options{Namespace: "tgd", Shards: 2, ShardLabels: true})
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		if !v.Type().Field(i).IsExported() {
			continue // buildInfo: set by NewWith already
		}
		f := v.Field(i)
		get := f.MethodByName("GetMetricWithLabelValues")
		if !get.IsValid() {
			continue
		}
		made := false
		for n := 0; n <= 8 && !made; n++ {
			args := make([]reflect.Value, n)
			for j := range args {
				args[j] = reflect.ValueOf("x")
			}
			made = get.Call(args)[1].IsNil()
		}
		require.True(t, made, "metrics.%s: no label count up to 8 works", v.Type().Field(i).Name)
	}
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	out := map[string]map[string]bool{}
	add := func(name string, labels map[string]bool, extra ...string) {
		l := map[string]bool{}
		for k := range labels {
			l[k] = true
		}
		for _, k := range extra {
			l[k] = true
		}
		out[name] = l
	}
	for _, mf := range families {
		labels := map[string]bool{}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		name := mf.GetName()
		switch mf.GetType().String() {
		case "HISTOGRAM":
			add(name+"_bucket", labels, "le")
			add(name+"_sum", labels)
			add(name+"_count", labels)
		case "SUMMARY":
			add(name, labels, "quantile")
			add(name+"_sum", labels)
			add(name+"_count", labels)
		default:
			add(name, labels)
		}
	}
	require.Contains(t, out, "dispatcher_lease_active", "internal/metrics gathered nothing of the dispatcher")
	return out
}

var (
	metricRef   = regexp.MustCompile(`\bdispatcher_[a-z0-9_]+\b`)
	groupingRef = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	selectorRef = regexp.MustCompile(`\{([^{}]*)\}`)
	matcherRef  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// targetLabels are added by Prometheus at scrape time: prometheus.yml's
// relabelling, or a ServiceMonitor's (namespace, pod, service...).
var targetLabels = []string{"instance", "job", "namespace", "pod"}

// checkExpr asserts that a PromQL expression names only registered metrics
// and only labels that those metrics (or the scrape) carry. It returns the
// metric names found.
func checkExpr(t *testing.T, where, expr string, reg map[string]map[string]bool) []string {
	t.Helper()
	names := metricRef.FindAllString(expr, -1)
	allowed := map[string]bool{}
	for _, l := range targetLabels {
		allowed[l] = true
	}
	for _, n := range names {
		labels, ok := reg[n]
		require.True(t, ok, "%s: %s is not registered by internal/metrics (expr %q)", where, n, expr)
		for l := range labels {
			allowed[l] = true
		}
	}
	var used []string
	for _, g := range groupingRef.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				used = append(used, l)
			}
		}
	}
	for _, s := range selectorRef.FindAllStringSubmatch(expr, -1) {
		for _, m := range matcherRef.FindAllStringSubmatch(s[1], -1) {
			used = append(used, m[1])
		}
	}
	for _, l := range used {
		require.True(t, allowed[l], "%s: label %q is on none of %v (expr %q)", where, l, names, expr)
	}
	return names
}

// alertRules returns every rule of alerts.yml.
func alertRules(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, g := range listOf(t, yamlDoc(t, "prometheus/alerts.yml")["groups"], "groups") {
		for _, r := range listOf(t, mapOf(t, g, "group")["rules"], "rules") {
			out = append(out, mapOf(t, r, "rule"))
		}
	}
	return out
}

func TestAlertRules(t *testing.T) {
	reg := registeredMetrics(t)
	var all []string
	for _, rule := range alertRules(t) {
		name := str(rule["alert"])
		require.NotEmpty(t, name, "a rule without alert name")
		expr := str(rule["expr"])
		require.NotEmpty(t, expr, "%s: no expr", name)
		checkExpr(t, "alert "+name, expr, reg)
		require.NotEmpty(t, str(mapOf(t, rule["labels"], name+" labels")["severity"]), "%s: severity", name)
		ann := mapOf(t, rule["annotations"], name+" annotations")
		require.NotEmpty(t, str(ann["summary"]), "%s: summary", name)
		// No rule depends on the scrape job's name: under a ServiceMonitor
		// it is not the one prometheus.yml sets.
		require.NotRegexp(t, `\bjob\s*(=|!=|=~|!~)`, expr, "%s matches a job name", name)
		// Rules that aggregate keep the bots apart.
		if regexp.MustCompile(`\b(sum|max|count|min|avg)\s+by\b`).MatchString(expr) {
			require.Contains(t, expr, "redis_namespace", "%s aggregates without redis_namespace", name)
		}
		all = append(all, expr)
	}
	joined := strings.Join(all, "\n")
	// The three alerts of the first monitoring issue, and the case where
	// nothing reports.
	require.Contains(t, joined, "dispatcher_lease_active == 1", "a shard with no ACTIVE instance")
	require.Contains(t, joined, "absent(dispatcher_build_info)", "no instance reporting at all")
	require.Contains(t, joined, "dispatcher_dead_letters_total", "dead letters growing")
	require.Regexp(t, `dispatcher_queue_oldest_pending_age_seconds\)\s*>\s*60`, joined, "oldest pending older than a minute")

	prom := yamlDoc(t, "prometheus/prometheus.yml")
	for _, f := range listOf(t, prom["rule_files"], "rule_files") {
		_, err := os.Stat(filepath.Join("prometheus", str(f)))
		require.NoError(t, err, "prometheus.yml loads %v", f)
	}
}

// TestAlertRunbooks: every alert links a section of docs/operations.md that
// exists: the heading "### AlertName", whose anchor GitHub writes in lower
// case (the names are letters only).
func TestAlertRunbooks(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	require.NoError(t, err)
	const base = "https://github.com/dispatcher-bot/dispatcher/blob/main/docs/operations.md#"
	for _, rule := range alertRules(t) {
		name := str(rule["alert"])
		require.Regexp(t, `^[A-Za-z]+$`, name)
		url := str(mapOf(t, rule["annotations"], name)["runbook_url"])
		require.Equal(t, base+strings.ToLower(name), url, "%s: runbook_url", name)
		require.Regexp(t, `(?m)^### `+name+`$`, string(doc), "docs/operations.md has no section %q for %s", "### "+name, name)
	}
}

// TestAlertRuleTests: every alert has a promtool test that expects it to
// fire, and every input series starts absent, as a real scrape does
// (counters then start at 0).
func TestAlertRuleTests(t *testing.T) {
	reg := registeredMetrics(t)
	tested := map[string]bool{}
	tests := yamlDoc(t, "prometheus/alerts_test.yml")
	for _, tc := range listOf(t, tests["tests"], "tests") {
		tcm := mapOf(t, tc, "test")
		for _, s := range listOf(t, tcm["input_series"], "input_series") {
			sm := mapOf(t, s, "series")
			checkExpr(t, "alerts_test.yml", str(sm["series"]), reg)
			if strings.HasPrefix(str(sm["series"]), "dispatcher_") {
				require.True(t, strings.HasPrefix(str(sm["values"]), "_ "), "alerts_test.yml: %s starts present; a real scrape starts absent", sm["series"])
			}
		}
		for _, at := range listOf(t, tcm["alert_rule_test"], "alert_rule_test") {
			atm := mapOf(t, at, "alert_rule_test")
			if exp, _ := atm["exp_alerts"].([]any); len(exp) > 0 {
				tested[str(atm["alertname"])] = true
			}
		}
	}
	for _, rule := range alertRules(t) {
		require.True(t, tested[str(rule["alert"])], "alerts_test.yml never sees %s fire", rule["alert"])
	}
}

// TestPromtool checks the rules and runs their unit tests with a real
// promtool (make test installs Debian's prometheus package, which has it).
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: the alert rules and their tests are NOT checked (make test installs it: apt-get install prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
}

// dashboardMetrics are the series the issue asks the dashboard to show.
var dashboardMetrics = []string{
	"dispatcher_updates_enqueued_total",
	"dispatcher_updates_duplicate_total",
	"dispatcher_webhook_rejections_total",
	"dispatcher_dispatch_duration_seconds_bucket",
	"dispatcher_dispatch_failures_total",
	"dispatcher_queue_length",
	"dispatcher_queue_pending",
	"dispatcher_queue_oldest_pending_age_seconds",
	"dispatcher_lease_active",
	"dispatcher_lease_transitions_total",
	"dispatcher_telegram_api_errors_total",
	"dispatcher_journal_dropped_total",
	"dispatcher_dead_letters_total",
	"dispatcher_webhook_request_duration_seconds_count",
	"dispatcher_webhook_request_duration_seconds_bucket",
	"dispatcher_dispatch_wait_seconds_bucket",
	"dispatcher_handler_duration_seconds_bucket",
	"dispatcher_build_info",
	"dispatcher_shards",
	"dispatcher_telegram_api_failures_total",
	"dispatcher_redis_memory_used_bytes",
	"dispatcher_redis_memory_max_bytes",
}

type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboard(t *testing.T) {
	reg := registeredMetrics(t)
	data, err := os.ReadFile("grafana/dispatcher-dashboard.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(data, &d))
	require.GreaterOrEqual(t, d.SchemaVersion, 36)
	require.NotEmpty(t, d.UID)
	require.NotEmpty(t, d.Title)

	seen := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			require.False(t, ids[p.ID], "panel id %d used twice", p.ID)
			ids[p.ID] = true
			require.NotEmpty(t, p.Title, "panel %d has no title", p.ID)
			require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q is wider than the grid", p.Title)
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			for _, tg := range p.Targets {
				require.NotEmpty(t, tg.RefID)
				for _, n := range checkExpr(t, "panel "+p.Title, tg.Expr, reg) {
					seen[n] = true
				}
			}
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)$`)
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		require.NotNil(t, m, "variable %s: want label_values(metric, label), got %q", v.Name, v.Definition)
		require.True(t, reg[m[1]][m[3]] || slices.Contains(targetLabels, m[3]), "variable %s: %s has no label %s", v.Name, m[1], m[3])
		vars[v.Name] = true
	}
	// A bot (redis_namespace) and its instances can be picked.
	require.True(t, vars["redis_namespace"] && vars["instance"], "the dashboard needs the variables redis_namespace and instance")
	var missing []string
	for _, n := range dashboardMetrics {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "the dashboard shows none of these series")
}

// TestHelmChartRulesAreAlertsYml: the Helm chart's PrometheusRule is made
// from a copy of alerts.yml (Helm reads only files inside the chart); it
// must be the same file.
func TestHelmChartRulesAreAlertsYml(t *testing.T) {
	want, err := os.ReadFile("prometheus/alerts.yml")
	require.NoError(t, err)
	got, err := os.ReadFile("helm/dispatcher/files/alerts.yml")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got),
		"deploy/helm/dispatcher/files/alerts.yml differs: cp deploy/prometheus/alerts.yml deploy/helm/dispatcher/files/alerts.yml")
}
