// Package grafana holds the Grafana dashboard of tcpreap watch (tcpreap.json) and its test:
// every metric the dashboard queries is one that the watch package declares it exports,
// every label it groups, matches or names a series by is one of theirs (or a label
// Prometheus gives every target), and every metric watch exports is on it.
package grafana

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/watch"
)

// dashboard is what the test reads of Grafana's dashboard model.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

// The words of PromQL the dashboard may use besides metric and label names: functions and
// aggregations, and the keywords of grouping and vector matching.
var (
	functions = []string{"sum", "max", "min", "avg", "count", "topk", "rate", "increase", "histogram_quantile", "time"}
	keywords  = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
	// Labels Prometheus gives every target's series, and a histogram's buckets'.
	targetLabels = []string{"instance", "job", "le"}
)

// A histogram (watch's durations) is queried by its series: NAME_bucket, NAME_sum, NAME_count.
var histogramSeries = regexp.MustCompile(`^(.+)_(bucket|sum|count)$`)

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matcher    = regexp.MustCompile(`\{([^{}]*)\}`)
	matchLabel = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*""\s*$`)
	grouping   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)`)
	rangeSel   = regexp.MustCompile(`\[[^\[\]]*\]`)
	word       = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	legend     = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
	labelVals  = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
)

// names reads a PromQL expression as the dashboard writes it: the metric names it queries
// and the label names it matches or groups by. A word that is none of these, nor a
// function or keyword of the list above, is an error: the extraction is careful, not a
// parser, and says so rather than pass what it does not know.
func names(expr string) (metrics, labels []string, err []string) {
	expr = quoted.ReplaceAllString(expr, `""`)
	for _, m := range matcher.FindAllStringSubmatch(expr, -1) {
		for _, part := range strings.Split(m[1], ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			lm := matchLabel.FindStringSubmatch(part)
			if lm == nil {
				err = append(err, "a label matcher that is not NAME OP \"VALUE\": "+part)
				continue
			}
			labels = append(labels, lm[1])
		}
	}
	rest := matcher.ReplaceAllString(expr, " ")
	for _, g := range grouping.FindAllStringSubmatch(rest, -1) {
		for _, l := range strings.Split(g[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	rest = grouping.ReplaceAllString(rest, " ")
	rest = rangeSel.ReplaceAllString(rest, " ")
	for _, m := range word.FindAllString(rest, -1) {
		name, call := strings.CutSuffix(strings.TrimSpace(m), "(")
		name = strings.TrimSpace(name)
		switch {
		case call && slices.Contains(functions, name):
		case !call && slices.Contains(keywords, name):
		case call:
			err = append(err, "a function the test does not know: "+name)
		default:
			metrics = append(metrics, name)
		}
	}
	return metrics, labels, err
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("tcpreap.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("tcpreap.json: %v", err)
	}

	exported := map[string]bool{}
	var allLabels []string
	for _, m := range watch.Metrics {
		exported[m.Name] = true
		allLabels = append(allLabels, m.Labels...)
	}
	allLabels = append(allLabels, targetLabels...)
	known := func(metric string) bool {
		if exported[metric] {
			return true
		}
		m := histogramSeries.FindStringSubmatch(metric)
		return m != nil && exported[m[1]]
	}
	queried := map[string]bool{}
	check := func(where, expr string, legendFormat string) {
		t.Helper()
		if expr == "" {
			t.Errorf("%s: no query", where)
			return
		}
		metrics, labels, errs := names(strings.ReplaceAll(expr, "$__rate_interval", "5m"))
		for _, e := range errs {
			t.Errorf("%s: %s in %s", where, e, expr)
		}
		if len(metrics) == 0 {
			t.Errorf("%s: %s queries no metric", where, expr)
		}
		for _, m := range metrics {
			if !known(m) {
				t.Errorf("%s: %s is not a metric tcpreap watch exports (watch.Metrics)", where, m)
			}
			if m := histogramSeries.FindStringSubmatch(m); m != nil && exported[m[1]] {
				queried[m[1]] = true
			}
			queried[m] = true
		}
		for _, l := range labels {
			if !slices.Contains(allLabels, l) {
				t.Errorf("%s: label %s is not one of watch's nor a target's", where, l)
			}
		}
		for _, l := range legend.FindAllStringSubmatch(legendFormat, -1) {
			if !slices.Contains(labels, l[1]) {
				t.Errorf("%s: the legend names %s, which the query does not keep (by or matcher)", where, l[1])
			}
		}
	}

	if d.Title == "" || d.UID == "" {
		t.Errorf("the dashboard has no title or uid")
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelVals.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(METRIC, LABEL)", v.Name, v.Definition)
			continue
		}
		check("variable "+v.Name, m[1], "")
		if !slices.Contains(allLabels, m[2]) {
			t.Errorf("variable %s: label %s is not one of watch's nor a target's", v.Name, m[2])
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		where := "panel " + p.Title
		if ids[p.ID] || p.Title == "" || p.GridPos.W == 0 || p.GridPos.H == 0 || len(p.Targets) == 0 {
			t.Errorf("%s: an id of its own, a title, a place and a query, each: %+v", where, p)
		}
		ids[p.ID] = true
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: its data source is %+v, want the dashboard's variable ${datasource}", where, p.Datasource)
		}
		for _, tg := range p.Targets {
			check(where, tg.Expr, tg.LegendFormat)
		}
	}
	for _, m := range watch.Metrics {
		if !queried[m.Name] {
			t.Errorf("%s is exported by tcpreap watch but on no panel", m.Name)
		}
	}
}

// TestNames: the extraction finds what a reader finds, and refuses what it does not know.
func TestNames(t *testing.T) {
	metrics, labels, errs := names(`topk(10, max by (destination) (a_held{instance=~"$i",netns=~"x|y"} / ignoring (destination) group_left b_size{netns!="z,{}"})) + rate(c_total[5m]) > bool 0.5`)
	if !slices.Equal(metrics, []string{"a_held", "b_size", "c_total"}) || !slices.Equal(labels, []string{"instance", "netns", "netns", "destination", "destination"}) || errs != nil {
		t.Errorf("got metrics %v, labels %v, errors %v", metrics, labels, errs)
	}
	if _, _, errs := names(`quantile_over_time(0.5, x[5m])`); len(errs) != 1 {
		t.Errorf("an unknown function passed: %v", errs)
	}
	if _, _, errs := names(`x{instance=~$i}`); len(errs) != 1 {
		t.Errorf("a matcher without quotes passed: %v", errs)
	}
}
