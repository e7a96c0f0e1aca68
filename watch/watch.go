package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
)

// A ListenError is an address /metrics cannot be served on.
type ListenError struct{ Err error }

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// Run loads the config, serves /metrics and /healthz, and every interval
// takes one census of each namespace covered and applies every policy, in
// the config's order, until ctx is done: a reap in progress then stops
// sending destroys, and writes its report and its audit line, before Run
// returns nil. A reload (o.Reload) reads the config again; a config with
// errors is refused, each error logged, and the one in force kept.
//
// Errors: a *ConfigError for a config that does not validate at start; a
// *ListenError for an address that cannot be listened on; a
// *reap.InputError for a namespace (Where) that cannot be used as given;
// else bad input: the config's file that cannot be read, or a listen
// address with no port.
func Run(ctx context.Context, o Options) error {
	cfg, err := loadFor(ctx, o)
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return fmt.Errorf("--listen %s: give a host and a port, such as 127.0.0.1:9737, [::1]:9737 or :9737 (every address)", o.Listen)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return &ListenError{fmt.Errorf("cannot serve the metrics on %s: %w", o.Listen, err)}
	}
	w := newWatcher(o, cfg)
	srv := &http.Server{Handler: w.handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		<-served
	}()
	o.Log.Info("watching", "listen", ln.Addr().String(), "interval", o.Interval.String(), "policies", names(cfg))
	if warning := exposed(ln.Addr()); warning != "" {
		o.Log.Warn(warning, "listen", ln.Addr().String())
	}
	// A namespace that does not exist is bad input, said once, not a
	// census that fails interval after interval.
	var ie *reap.InputError
	if err := w.interval(ctx); errors.As(err, &ie) {
		return err
	}
	w.loop(ctx)
	o.Log.Info("stopped")
	return nil
}

// exposed says when addr, where the metrics are served, is every address
// of the host: they name its processes, ports and peers.
func exposed(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); !ok || !a.IP.IsUnspecified() {
		return ""
	}
	return "the metrics are served on every address of this host, to anyone who can reach it, and they name its processes, ports and peers; listen on the address the scraper reaches (--listen ADDR:PORT), or firewall the port"
}

func names(cfg *Config) []string {
	out := make([]string, len(cfg.Policies))
	for i, p := range cfg.Policies {
		out[i] = p.Name
	}
	return out
}

// A watcher is Run's state.
type watcher struct {
	o       Options
	cfg     *Config
	reg     *prometheus.Registry
	census  *censusCollector
	m       counters
	healthy atomic.Pointer[health]
	owners  host.OwnerCache
	// said is the census's notes and each policy's warnings, logged when
	// they change: an SSH server whose files cannot be read would
	// otherwise say so every interval.
	said said
}

// said holds the lines last logged under each key ("" for the census, a
// policy's name for its warnings).
type said map[string][]string

// changed says whether lines differ from what was last said under key,
// and keeps them as what was said.
func (s said) changed(key string, lines []string) bool {
	if slices.Equal(s[key], lines) {
		return false
	}
	s[key] = slices.Clone(lines)
	return true
}

// health is what /healthz says: when the last census was taken, or why it
// failed.
type health struct {
	at  time.Time
	err string
}

// counters are the counters and timings since the start.
type counters struct {
	censusDuration                                                             prometheus.Histogram
	censusErrors                                                               prometheus.Counter
	matched, destroyed, gone, failed, skipped, refused, refusals, policyErrors *prometheus.CounterVec
	policyDuration                                                             *prometheus.HistogramVec
	reloads                                                                    *prometheus.CounterVec
	reloadOK                                                                   prometheus.Gauge
}

func newWatcher(o Options, cfg *Config) *watcher {
	w := &watcher{o: o, cfg: cfg, reg: prometheus.NewRegistry(), census: &censusCollector{}, said: said{}}
	counter := func(m metric) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.Name, Help: m.Help}, m.Labels)
	}
	// Timings from a millisecond to a minute.
	buckets := prometheus.ExponentialBuckets(0.001, 2.5, 14)
	w.m = counters{
		censusDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricCensusDuration.Name, Help: metricCensusDuration.Help, Buckets: buckets}),
		censusErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: metricCensusErrors.Name, Help: metricCensusErrors.Help}),
		matched:        counter(metricMatched),
		destroyed:      counter(metricDestroyed),
		gone:           counter(metricGone),
		failed:         counter(metricFailed),
		skipped:        counter(metricSkipped),
		refused:        counter(metricRefused),
		refusals:       counter(metricRefusals),
		policyErrors:   counter(metricPolicyErrors),
		policyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricPolicyDuration.Name, Help: metricPolicyDuration.Help, Buckets: buckets}, metricPolicyDuration.Labels),
		reloads:        counter(metricReloads),
		reloadOK:       prometheus.NewGauge(prometheus.GaugeOpts{Name: metricReloadOK.Name, Help: metricReloadOK.Help}),
	}
	w.m.reloadOK.Set(1)
	w.reg.MustRegister(w.census, w.m.censusDuration, w.m.censusErrors, w.m.matched, w.m.destroyed, w.m.gone, w.m.failed, w.m.skipped,
		w.m.refused, w.m.refusals, w.m.policyErrors, w.m.policyDuration, w.m.reloads, w.m.reloadOK,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w.policiesChanged()
	return w
}

// policiesChanged starts every policy's counters at 0, so that a policy
// that never matched still has its series.
func (w *watcher) policiesChanged() {
	for _, p := range w.cfg.Policies {
		for _, c := range []*prometheus.CounterVec{w.m.matched, w.m.destroyed, w.m.gone, w.m.failed, w.m.skipped, w.m.refused, w.m.refusals, w.m.policyErrors} {
			c.WithLabelValues(p.Name)
		}
	}
}

// handler serves /metrics from the last census and /healthz.
func (w *watcher) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(w.o.Log.Handler(), slog.LevelError)}))
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		h := w.healthy.Load()
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case h == nil:
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(rw, "no census yet")
		case h.err != "":
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(rw, "the last census failed: %s\n", h.err)
		case time.Since(h.at) > 3*w.o.Interval:
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(rw, "the last census is %v old, more than three intervals\n", time.Since(h.at).Round(time.Second))
		default:
			fmt.Fprintln(rw, "ok")
		}
	})
	return mux
}

// loop runs an interval each Interval (Run ran the first), until ctx is
// done; a reload is taken between intervals.
func (w *watcher) loop(ctx context.Context) {
	tick := time.NewTicker(w.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.o.Reload:
			w.reload(ctx)
			continue
		case <-tick.C:
		}
		w.interval(ctx)
	}
}

// interval is one census and every policy once; it returns the census's
// error.
func (w *watcher) interval(ctx context.Context) error {
	start := time.Now()
	spaces, notes, err := takeCensus(ctx, w.o.Where, &w.owners)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		w.m.censusErrors.Inc()
		w.healthy.Store(&health{at: start, err: err.Error()})
		w.o.Log.Error("the census failed; the metrics are still those of the last census", "error", err.Error())
	} else {
		w.census.last.Store(new(gauges(spaces, w.o.Top, start)))
		w.m.censusDuration.Observe(time.Since(start).Seconds())
		w.healthy.Store(&health{at: start})
		if w.said.changed("", notes) {
			for _, n := range notes {
				w.o.Log.Warn(n)
			}
		}
	}
	for _, p := range w.cfg.Policies {
		if ctx.Err() != nil {
			break
		}
		w.apply(ctx, p)
	}
	return err
}

// apply runs policy p once: its query in every namespace covered, then a
// report's log line, or a reap through the Actor.
func (w *watcher) apply(ctx context.Context, p *Policy) {
	log := w.o.Log.With("policy", p.Name)
	start := time.Now()
	run, err := reap.Query(ctx, p.Selection, w.o.Where, reap.QueryOptions{EverySession: true})
	w.m.policyDuration.WithLabelValues(p.Name, "query").Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() == nil {
			w.m.policyErrors.WithLabelValues(p.Name).Inc()
			log.Error("the policy could not run this interval", "error", err.Error())
		}
		return
	}
	defer run.Close()
	targets, skipped := run.Targets(), run.Skipped()
	w.m.matched.WithLabelValues(p.Name).Add(float64(targets + skipped))
	w.m.skipped.WithLabelValues(p.Name).Add(float64(skipped))
	if p.Action == Report || targets == 0 {
		if targets+skipped > 0 {
			log.Info("matched", "action", string(p.Action), "matched", targets+skipped, "targets", targets, "skipped", skipped)
		}
		return
	}
	start = time.Now()
	acted := w.o.Act.Act(ctx, p, run)
	w.m.policyDuration.WithLabelValues(p.Name, "destroy").Observe(time.Since(start).Seconds())
	if w.said.changed(p.Name, acted.Warnings) {
		for _, warning := range acted.Warnings {
			log.Warn(warning)
		}
	}
	if acted.Err != nil {
		w.m.policyErrors.WithLabelValues(p.Name).Inc()
		log.Error("the policy could not run this interval; nothing was destroyed", "error", acted.Err.Error())
		return
	}
	if acted.Refused {
		w.m.refusals.WithLabelValues(p.Name).Inc()
		w.m.refused.WithLabelValues(p.Name).Add(float64(targets))
		log.Warn(fmt.Sprintf("%d sockets would be destroyed, more than the policy's max %d; nothing was destroyed (narrow its selection or raise its max)", targets, p.Max),
			"matched", targets+skipped, "targets", targets, "max", p.Max)
		return
	}
	sum := acted.Report.Summary()
	w.m.destroyed.WithLabelValues(p.Name).Add(float64(sum.Killed))
	w.m.gone.WithLabelValues(p.Name).Add(float64(sum.Gone))
	w.m.failed.WithLabelValues(p.Name).Add(float64(sum.Failed + sum.Pending))
	level := slog.LevelInfo
	if sum.Failed+sum.Pending > 0 {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "reaped", summaryAttrs(sum)...)
}

func summaryAttrs(sum inet.Summary) []any {
	return []any{"matched", sum.Matched, "destroyed", sum.Killed, "gone", sum.Gone, "failed", sum.Failed, "pending", sum.Pending, "skipped", sum.Skipped}
}

// reload reads the config again; one with errors is refused, each error
// logged, and the one in force kept.
func (w *watcher) reload(ctx context.Context) {
	cfg, err := loadFor(ctx, w.o)
	if err != nil {
		w.m.reloads.WithLabelValues("refused").Inc()
		w.m.reloadOK.Set(0)
		var ce *ConfigError
		if errors.As(err, &ce) {
			for _, e := range ce.Errs {
				w.o.Log.Error(e, "config", ce.Path)
			}
		} else {
			w.o.Log.Error(err.Error(), "config", w.o.Config)
		}
		w.o.Log.Error("the config was not reloaded; the policies in force are kept", "config", w.o.Config, "policies", names(w.cfg))
		return
	}
	w.cfg = cfg
	w.policiesChanged()
	w.m.reloads.WithLabelValues("ok").Inc()
	w.m.reloadOK.Set(1)
	w.o.Log.Info("the config was reloaded", "config", w.o.Config, "policies", names(cfg))
}
