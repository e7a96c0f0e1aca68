// Command dashboard draws docs/dashboard.png, the picture of the Grafana dashboard
// (deploy/grafana/tcpreap.json) in the docs, without Grafana: in network namespaces of its
// own it runs leaking applications, outgoing connections that leave TIME-WAIT, a real
// tcpreap watch with policies that report, reap and refuse, and a real Prometheus that
// scrapes it; then it asks that Prometheus for every query of every panel of the
// dashboard over the run, draws the panels where the dashboard places them (an HTML page
// of SVG charts) and has headless Chromium take its picture. Every number in the picture
// is one Prometheus computed from the dashboard's own queries over tcpreap watch's
// metrics; the look is this program's, not Grafana's.
//
// Usage (root; make dashboard-picture runs it):
//
//	dashboard -tcpreap bin/tcpreap -out docs/dashboard.png [-minutes 5]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

func main() {
	tcpreap := flag.String("tcpreap", "bin/tcpreap", "the tcpreap binary")
	dash := flag.String("dashboard", "deploy/grafana/tcpreap.json", "the Grafana dashboard")
	out := flag.String("out", "docs/dashboard.png", "the picture to write")
	minutes := flag.Float64("minutes", 5, "how long the scenario runs")
	prometheus := flag.String("prometheus", "prometheus", "the Prometheus server (Debian: prometheus)")
	chromium := flag.String("chromium", "chromium", "headless Chromium (Debian: chromium)")
	flag.Parse()
	if err := run(*tcpreap, *dash, *out, *prometheus, *chromium, time.Duration(*minutes*float64(time.Minute))); err != nil {
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(1)
	}
}

// The scenario's addresses in A (192.0.2.1).
const (
	watchAddr = "127.0.0.1:9737"
	promAddr  = "127.0.0.1:9095"
	step      = 5 * time.Second // watch's interval, Prometheus's scrape interval, the queries' step
)

// policies are the scenario's: a report of every idle CLOSE-WAIT socket, a reap of
// leaky-app's that keeps up with its leak, and a reap of java-api's whose ceiling a burst
// of its leak outgrows (then it is refused, interval after interval, until the burst's
// sockets end: their peers' FIN-WAIT-2 ends expire after a minute, and the leaker's TCP
// keepalive, Go's default, then meets a reset).
const policies = `policies:
  - name: close-wait-idle
    action: report
    select: {state: close_wait, idle: 20s}
  - name: leaky-app
    action: reap
    select: {state: close_wait, process: leaky-app, port: 8080, idle: 30s}
    max: 200
  - name: java-api
    action: reap
    select: {state: close_wait, process: java-api, port: 8081, idle: 30s}
    max: 10
`

func run(tcpreap, dashFile, out, prometheus, chromium string, length time.Duration) error {
	if err := testnet.CheckRoot(); err != nil {
		return fmt.Errorf("%v: it makes network namespaces (try sudo)", err)
	}
	for _, tool := range []*string{&tcpreap, &prometheus, &chromium} {
		p, err := exec.LookPath(*tool)
		if err != nil {
			return fmt.Errorf("%s: %w (make dashboard-picture installs prometheus and chromium)", *tool, err)
		}
		*tool, _ = filepath.Abs(p)
	}
	b, err := os.ReadFile(dashFile)
	if err != nil {
		return err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("%s: %w", dashFile, err)
	}
	work, err := os.MkdirTemp("", "tcpreap-dashboard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	os.Setenv("TCPREAP_SYSLOG_SOCKET", filepath.Join(work, "no-syslog")) // the audit lines go nowhere

	n, err := testnet.Setup()
	if err != nil {
		return err
	}
	defer n.Close()

	leaker := filepath.Join(work, "leaky-app")
	if out, err := exec.Command("go", "build", "-o", leaker, "github.com/tcpreap/tcpreap/integration/leaker").CombinedOutput(); err != nil {
		return fmt.Errorf("building the leaker: %v\n%s", err, out)
	}
	java := filepath.Join(work, "java-api")
	if err := copyFile(leaker, java); err != nil {
		return err
	}
	for _, app := range []struct {
		path string
		port uint16
	}{{leaker, 8080}, {java, 8081}} {
		if err := start(n.Local, app.path, netip.AddrPortFrom(testnet.LocalV4, app.port).String()); err != nil {
			return err
		}
	}
	config := filepath.Join(work, "watch.yaml")
	if err := os.WriteFile(config, []byte(policies), 0o644); err != nil {
		return err
	}
	watch := n.Local.Command(context.Background(), tcpreap, "watch", "--config", config, "--listen", watchAddr, "--interval", step.String())
	watch.Stdout, watch.Stderr = io.Discard, io.Discard
	if err := watch.Start(); err != nil {
		return err
	}
	defer watch.Process.Kill()
	promConfig := filepath.Join(work, "prometheus.yml")
	if err := os.WriteFile(promConfig, []byte(fmt.Sprintf(`global: {scrape_interval: %s, evaluation_interval: %s}
scrape_configs:
  - job_name: tcpreap
    static_configs: [{targets: ["%s"], labels: {instance: node-1}}]
`, step, step, watchAddr)), 0o644); err != nil {
		return err
	}
	prom := n.Local.Command(context.Background(), prometheus, "--config.file="+promConfig, "--storage.tsdb.path="+filepath.Join(work, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.Stdout, prom.Stderr = io.Discard, os.Stderr
	if err := prom.Start(); err != nil {
		return err
	}
	defer prom.Process.Kill()

	// The scenario: every interval, 3 connections to leaky-app and 1 to java-api that
	// their clients close (CLOSE-WAIT: the applications never do), and 6 outgoing
	// connections from A that A closes first (TIME-WAIT), to two destinations, from an
	// ephemeral port range of 200 ports; healthy connections that stay; halfway, a
	// reload and a burst of 20 more to java-api.
	if res, err := n.Local.Run("sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=40000 40199"); err != nil || res.Code != 0 {
		return fmt.Errorf("sysctl in %s: %v %s", n.Local.Name, err, res.Stderr)
	}
	web, err := n.Listen(n.Peer, netip.MustParseAddrPort("192.0.2.2:443"))
	if err != nil {
		return err
	}
	db, err := n.Listen(n.Peer, netip.MustParseAddrPort("192.0.2.3:5432"))
	if err != nil {
		return err
	}
	for range 12 {
		if _, err := n.Outbound(db); err != nil {
			return err
		}
	}
	begin := time.Now()
	fmt.Fprintf(os.Stderr, "dashboard: running the scenario for %v\n", length)
	reloaded := false
	for tick := time.NewTicker(step); time.Since(begin) < length; <-tick.C {
		for _, to := range []struct {
			port uint16
			n    int
		}{{8080, 3}, {8081, 1}} {
			for range to.n {
				c, err := n.Dial(netip.AddrPortFrom(testnet.LocalV4, to.port))
				if err != nil {
					return err
				}
				c.Close()
			}
		}
		for i := range 6 {
			l := web
			if i%2 == 1 {
				l = db
			}
			p, err := n.Outbound(l)
			if err != nil {
				return err
			}
			if err := n.TimeWait(p); err != nil {
				return err
			}
		}
		if !reloaded && time.Since(begin) > length/2 {
			watch.Process.Signal(syscall.SIGHUP)
			reloaded = true
			for range 20 {
				c, err := n.Dial(netip.AddrPortFrom(testnet.LocalV4, 8081))
				if err != nil {
					return err
				}
				c.Close()
			}
		}
	}
	end := time.Now()
	time.Sleep(2 * step) // the last census scraped

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := n.Local.Do(func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	q := querier{client: client, start: begin, end: end}
	page, err := q.render(d, length)
	if err != nil {
		return err
	}
	htmlFile := filepath.Join(work, "dashboard.html")
	if err := os.WriteFile(htmlFile, []byte(page), 0o644); err != nil {
		return err
	}
	return screenshot(chromium, htmlFile, out, work, d)
}

// start runs argv in h and waits until it says it listens (the leaker's "listening").
func start(h *testnet.Host, argv ...string) error {
	cmd := h.Command(context.Background(), argv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	line := make([]byte, len("listening\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "listening\n" {
		return fmt.Errorf("%s did not start: %q, %v", argv[0], line, err)
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// dashboard is what this program reads of Grafana's dashboard model.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Type        string                   `json:"type"`
		Title       string                   `json:"title"`
		GridPos     struct{ X, Y, W, H int } `json:"gridPos"`
		FieldConfig struct {
			Defaults struct {
				Unit       string `json:"unit"`
				Decimals   *int   `json:"decimals"`
				Thresholds *struct {
					Steps []struct {
						Color string   `json:"color"`
						Value *float64 `json:"value"`
					} `json:"steps"`
				} `json:"thresholds"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

// querier asks the scenario's Prometheus for the dashboard's queries over the run.
type querier struct {
	client     *http.Client
	start, end time.Time
}

// series is one line of a panel: its legend and its samples.
type series struct {
	legend string
	times  []float64
	values []float64
}

// query evaluates expr over the run, every step, with the dashboard's variables as
// Grafana would set them here: every host and namespace, a rate interval of four scrapes.
func (q querier) query(expr, legendFormat string) ([]series, error) {
	expr = strings.NewReplacer(`"$instance"`, `".*"`, `"$netns"`, `".*"`, "$__rate_interval", (4 * step).String()).Replace(expr)
	v := url.Values{"query": {expr}, "start": {fmt.Sprint(q.start.Unix())}, "end": {fmt.Sprint(q.end.Unix())}, "step": {fmt.Sprint(step.Seconds())}}
	resp, err := q.client.Get("http://" + promAddr + "/api/v1/query_range?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", expr, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("the scenario's Prometheus refused %s: %s", expr, r.Error)
	}
	var out []series
	for _, res := range r.Data.Result {
		s := series{legend: legendRef.ReplaceAllStringFunc(legendFormat, func(m string) string {
			return res.Metric[strings.TrimSpace(m[2:len(m)-2])]
		})}
		for _, tv := range res.Values {
			t, _ := tv[0].(float64)
			str, _ := tv[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			s.times, s.values = append(s.times, t), append(s.values, f)
		}
		if len(s.values) > 0 {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].legend < out[j].legend })
	return out, nil
}

var legendRef = regexp.MustCompile(`\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}`)

// The page: 24 columns of the dashboard's grid, rows of 30 px, as Grafana's.
const (
	pageWidth = 1600
	rowHeight = 30
	header    = 64
)

var palette = []string{"#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d", "#fade2a"}

// render draws every panel of d from the queries' answers.
func (q querier) render(d dashboard, length time.Duration) (string, error) {
	var b strings.Builder
	bottom := 0
	for _, p := range d.Panels {
		bottom = max(bottom, p.GridPos.Y+p.GridPos.H)
	}
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px "DejaVu Sans",sans-serif;width:%dpx;height:%dpx;position:relative}
.hd{position:absolute;left:8px;top:6px;right:8px}
.hd h1{font-size:18px;margin:0 0 4px 0;color:#fff;font-weight:500}
.hd p{margin:0;color:#8e8e9e;font-size:11px}
.p{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;box-sizing:border-box;overflow:hidden}
.p h2{font-size:12px;font-weight:500;margin:6px 8px;color:#ccccdc;white-space:nowrap}
.stat{font-size:40px;text-align:center;margin-top:8px;font-weight:500}
table{border-collapse:collapse;font-size:10px;position:absolute;right:6px;top:28px}
td{padding:1px 4px;white-space:nowrap}td.n{text-align:right;color:#ccccdc}
</style></head><body>`, pageWidth, header+bottom*rowHeight+8)
	fmt.Fprintf(&b, `<div class="hd"><h1>%s</h1><p>%s</p></div>`, html.EscapeString(d.Title), html.EscapeString(fmt.Sprintf(
		"Not Grafana: each panel of deploy/grafana/tcpreap.json, its queries evaluated by Prometheus over a real tcpreap watch (interval %v) in test namespaces, for %v: two applications leak CLOSE-WAIT sockets, one reaped by a policy that keeps up, one by a policy whose max a burst of its leak outgrows halfway (with a reload); outgoing connections leave TIME-WAIT from a range of 200 ports. Drawn by integration/dashboard (make dashboard-picture).",
		step, length)))
	colWidth := float64(pageWidth-16) / 24
	for _, p := range d.Panels {
		x, y := 8+float64(p.GridPos.X)*colWidth, header+p.GridPos.Y*rowHeight
		w, h := float64(p.GridPos.W)*colWidth-6, p.GridPos.H*rowHeight-6
		fmt.Fprintf(&b, `<div class="p" style="left:%.0fpx;top:%dpx;width:%.0fpx;height:%dpx"><h2>%s</h2>`, x, y, w, h, html.EscapeString(p.Title))
		var all []series
		for _, t := range p.Targets {
			s, err := q.query(t.Expr, t.LegendFormat)
			if err != nil {
				return "", fmt.Errorf("panel %s: %w", p.Title, err)
			}
			all = append(all, s...)
		}
		unit := p.FieldConfig.Defaults.Unit
		switch p.Type {
		case "stat":
			text, color := "No data", "#8e8e9e"
			if len(all) > 0 && len(all[0].values) > 0 {
				v := all[0].values[len(all[0].values)-1]
				if dec := p.FieldConfig.Defaults.Decimals; dec != nil {
					v = math.Round(v*math.Pow10(*dec)) / math.Pow10(*dec)
				}
				text, color = format(v, unit), "#73bf69"
				if th := p.FieldConfig.Defaults.Thresholds; th != nil {
					for _, s := range th.Steps {
						if s.Value == nil || v >= *s.Value {
							color = map[string]string{"green": "#73bf69", "orange": "#ff9830", "red": "#f2495c"}[s.Color]
						}
					}
				}
			}
			fmt.Fprintf(&b, `<div class="stat" style="color:%s">%s</div>`, color, html.EscapeString(text))
		case "timeseries":
			b.WriteString(chart(all, unit, w, float64(h), q.start, q.end))
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</body></html>`)
	return b.String(), nil
}

// chart is an SVG line chart of series over [start, end], with its legend (last and max)
// in a table on the right.
func chart(all []series, unit string, w, h float64, start, end time.Time) string {
	const top, left, bottom = 28.0, 48.0, 18.0
	legendW := 0.38 * w
	pw, ph := w-left-legendW-8, h-top-bottom
	lo, hi := 0.0, 0.0
	for _, s := range all {
		for _, v := range s.values {
			hi = max(hi, v)
			lo = min(lo, v)
		}
	}
	if unit == "percentunit" {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	t0, t1 := float64(start.Unix()), float64(end.Unix())
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%.0f" height="%.0f" style="position:absolute;left:0;top:0">`, w, h)
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		y := top + ph - ph*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#2c3235"/>`, left, left+pw, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="#8e8e9e" font-size="10" text-anchor="end">%s</text>`, left-4, y+3, html.EscapeString(format(v, unit)))
	}
	for i := 0; i <= 4; i++ {
		x := left + pw*float64(i)/4
		ago := time.Duration((t1 - t0) * float64(4-i) / 4 * float64(time.Second)).Round(time.Second)
		label := "now"
		if ago > 0 {
			label = "−" + ago.String()
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#8e8e9e" font-size="10" text-anchor="middle">%s</text>`, x, h-5, label)
	}
	if len(all) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#8e8e9e" font-size="13" text-anchor="middle">No data</text>`, left+pw/2, top+ph/2)
	}
	for i, s := range all {
		var pts []string
		for j := range s.values {
			x := left + pw*(s.times[j]-t0)/(t1-t0)
			y := top + ph - ph*(s.values[j]-lo)/(hi-lo)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, palette[i%len(palette)], strings.Join(pts, " "))
	}
	b.WriteString(`</svg><table><tr><td></td><td class="n">last</td><td class="n">max</td></tr>`)
	for i, s := range all {
		if i == 9 {
			fmt.Fprintf(&b, `<tr><td>… %d more</td></tr>`, len(all)-i)
			break
		}
		top := 0.0
		for _, v := range s.values {
			top = max(top, v)
		}
		fmt.Fprintf(&b, `<tr><td><span style="color:%s">━</span> %s</td><td class="n">%s</td><td class="n">%s</td></tr>`,
			palette[i%len(palette)], html.EscapeString(s.legend), html.EscapeString(format(s.values[len(s.values)-1], unit)), html.EscapeString(format(top, unit)))
	}
	b.WriteString(`</table>`)
	return b.String()
}

// format writes v in unit as Grafana's units do, roughly.
func format(v float64, unit string) string {
	switch unit {
	case "s":
		if v < 1 && v > 0 {
			return fmt.Sprintf("%.0f ms", v*1000)
		}
		return time.Duration(v * float64(time.Second)).Round(time.Second).String()
	case "percentunit":
		return fmt.Sprintf("%.0f%%", v*100)
	case "ops":
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// screenshot has headless Chromium take the page's picture, the size of the page.
func screenshot(chromium, page, out, work string, d dashboard) error {
	bottom := 0
	for _, p := range d.Panels {
		bottom = max(bottom, p.GridPos.Y+p.GridPos.H)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(work, "chromium"), fmt.Sprintf("--window-size=%d,%d", pageWidth, header+bottom*rowHeight+8),
		"--screenshot="+abs, "file://"+page)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chromium: %v\n%s", err, b)
	}
	if _, err := os.Stat(abs); err != nil {
		return errors.New("chromium wrote no picture")
	}
	fmt.Fprintf(os.Stderr, "dashboard: wrote %s\n", out)
	return nil
}
