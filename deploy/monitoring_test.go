package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

// registeredMetrics returns every series name internal/metrics exposes, with
// its label names: one child of each vector is created so that Gather lists
// it, and histograms and summaries expand to their _bucket, _sum and _count.
func registeredMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	m := metrics.NewTest()
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
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

// targetLabels are added by Prometheus at scrape time (prometheus.yml).
var targetLabels = []string{"instance", "job", "namespace"}

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

func TestAlertRules(t *testing.T) {
	reg := registeredMetrics(t)
	doc := yamlDoc(t, "prometheus/alerts.yml")
	var all []string
	rules := 0
	for _, g := range listOf(t, doc["groups"], "groups") {
		group := mapOf(t, g, "group")
		for _, r := range listOf(t, group["rules"], "rules") {
			rule := mapOf(t, r, "rule")
			name := str(rule["alert"])
			require.NotEmpty(t, name, "a rule without alert name")
			expr := str(rule["expr"])
			require.NotEmpty(t, expr, "%s: no expr", name)
			checkExpr(t, "alert "+name, expr, reg)
			require.NotEmpty(t, str(mapOf(t, rule["labels"], name+" labels")["severity"]), "%s: severity", name)
			require.NotEmpty(t, str(mapOf(t, rule["annotations"], name+" annotations")["summary"]), "%s: summary", name)
			all = append(all, expr)
			rules++
		}
	}
	joined := strings.Join(all, "\n")
	// The three alerts of the issue, and the case where nothing reports.
	require.Regexp(t, `dispatcher_lease_active\)\s*<\s*1`, joined, "a shard with no ACTIVE instance")
	require.Contains(t, joined, "absent(dispatcher_lease_active)", "no instance reporting at all")
	require.Contains(t, joined, "dispatcher_dead_letters_total", "dead letters growing")
	require.Regexp(t, `dispatcher_queue_oldest_pending_age_seconds\)\s*>\s*60`, joined, "oldest pending older than a minute")

	// up{job="..."} must name a scrape job of prometheus.yml.
	prom := yamlDoc(t, "prometheus/prometheus.yml")
	jobs := map[string]bool{}
	for _, sc := range listOf(t, prom["scrape_configs"], "scrape_configs") {
		jobs[str(mapOf(t, sc, "scrape_config")["job_name"])] = true
	}
	for _, m := range regexp.MustCompile(`job="([^"]+)"`).FindAllStringSubmatch(joined, -1) {
		require.True(t, jobs[m[1]], "alerts use job %q, not a job of prometheus.yml", m[1])
	}
	for _, f := range listOf(t, prom["rule_files"], "rule_files") {
		_, err := os.Stat(filepath.Join("prometheus", str(f)))
		require.NoError(t, err, "prometheus.yml loads %v", f)
	}

	// The promtool unit tests feed only registered series.
	tests := yamlDoc(t, "prometheus/alerts_test.yml")
	for _, tc := range listOf(t, tests["tests"], "tests") {
		for _, s := range listOf(t, mapOf(t, tc, "test")["input_series"], "input_series") {
			checkExpr(t, "alerts_test.yml", str(mapOf(t, s, "series")["series"]), reg)
		}
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
	"dispatcher_journal_write_failures_total",
	"dispatcher_dead_letters_total",
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
	labelValues := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		require.NotNil(t, m, "variable %s: want label_values(metric, label), got %q", v.Name, v.Definition)
		require.True(t, reg[m[1]][m[2]], "variable %s: %s has no label %s", v.Name, m[1], m[2])
	}
	var missing []string
	for _, n := range dashboardMetrics {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "the dashboard shows none of these series")
}
