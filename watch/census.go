package watch

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A spaceCensus is the census of one network namespace.
type spaceCensus struct {
	netns     string
	census    *census.Census
	ephemeral [2]uint16
}

// takeCensus counts the TCP sockets of every state, listeners too, in each
// namespace of where, with the processes that hold them and how long their
// CLOSE_WAIT sockets have been idle: one dump of every socket per
// namespace, which asks tcp_info of the CLOSE_WAIT sockets alone (the
// kernel fills it under each socket's lock: asked of every socket, it
// costs the census more than its whole dump), and the
// open files of the processes that run in them, through owners (a
// descriptor whose socket lives on is not read again). A namespace that
// cannot be entered is passed over, with a note. It destroys nothing.
func takeCensus(ctx context.Context, where reap.Where, owners *host.OwnerCache) ([]spaceCensus, []string, error) {
	where.PassOver = true
	sel := &reap.Selection{
		Filter:     sockdiag.Filter{States: sockdiag.AllStates, InfoStates: 1 << sockdiag.CloseWait},
		WantOwners: true, OwnersInSpaces: true, OwnerCache: owners,
		WantInfo:    true,
		IncludeSelf: true, // nothing is destroyed: the session is counted as any other
	}
	run, err := reap.Query(ctx, sel, where, reap.QueryOptions{Workers: 1})
	if err != nil {
		return nil, nil, err
	}
	defer run.Close()
	infos := run.Infos
	var out []spaceCensus
	for i, sc := range run.Spaces() {
		var ephemeral [2]uint16
		if run.DoIn(i, func(*sockdiag.Conn) (err error) { ephemeral, err = host.LocalPortRange(); return err }) != nil {
			ephemeral = [2]uint16{32768, 60999} // Linux's default
		}
		c, err := census.Take(run.SocketsIn(i), run.Owners, infos, ephemeral, math.MaxInt)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, spaceCensus{netns: sc.NetNS, census: c, ephemeral: ephemeral})
	}
	return out, run.Notes(), nil
}

// The label values of what a series does not name one by one.
const (
	other  = "other" // the rest, beyond the top
	nobody = "-"     // the process of a socket no process holds
)

// descs are the census gauges' descriptions.
var (
	descSockets       = desc(metricSockets)
	descCloseWaitIdle = desc(metricCloseWaitIdle)
	descTimeWait      = desc(metricTimeWait)
	descPortsHeld     = desc(metricPortsHeld)
	descPortRange     = desc(metricPortRange)
	descCensusSockets = desc(metricCensusSockets)
	descCensusTime    = desc(metricCensusTime)
)

func desc(m metric) *prometheus.Desc { return prometheus.NewDesc(m.Name, m.Help, m.Labels, nil) }

// gauges are the census's series, bounded: per namespace, the top local
// ports, processes and destinations keep series of their own, the rest are
// one "other" series each.
func gauges(spaces []spaceCensus, top int, at time.Time) []prometheus.Metric {
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	for _, sc := range spaces {
		c, ns := sc.census, sc.netns
		gauge(descCensusSockets, float64(c.Sockets), ns)
		gauge(descPortRange, float64(int(sc.ephemeral[1])-int(sc.ephemeral[0])+1), ns)

		// sockets by state, local port and process
		byPort := map[inet.PortRange]int{}
		byCommand := map[string]int{}
		for _, cell := range c.Cells {
			byPort[cell.Ports] += cell.Sockets
			if cell.Command != "" {
				byCommand[cell.Command] += cell.Sockets
			}
		}
		ports := topKeys(byPort, top, func(a, b inet.PortRange) int { return cmp.Compare(a.Lo, b.Lo) })
		commands := topKeys(byCommand, top, cmp.Compare[string])
		type key struct{ state, port, process string }
		cells := map[key]int{}
		for _, cell := range c.Cells {
			k := key{cell.State.String(), other, other}
			if ports[cell.Ports] {
				k.port = cell.Ports.String()
			}
			switch {
			case cell.Command == "":
				k.process = nobody
			case commands[cell.Command]:
				k.process = cell.Command
			}
			cells[k] += cell.Sockets
		}
		for k, n := range cells {
			gauge(descSockets, float64(n), ns, k.state, k.port, k.process)
		}

		// the oldest idle CLOSE_WAIT socket of each command
		closeWait := map[string]int{}
		oldest := map[string]time.Duration{}
		for _, h := range c.CloseWait {
			closeWait[h.Command] += h.CloseWait
			oldest[h.Command] = max(oldest[h.Command], h.OldestIdle)
		}
		named := topKeys(closeWait, top, cmp.Compare[string])
		idle := map[string]time.Duration{}
		for command, d := range oldest {
			if !named[command] {
				command = other
			}
			idle[command] = max(idle[command], d)
		}
		for command, d := range idle {
			gauge(descCloseWaitIdle, d.Seconds(), ns, command)
		}

		// TIME_WAIT and the ports held, by destination
		for _, m := range []struct {
			d      *prometheus.Desc
			counts []census.DestinationCount
		}{{descTimeWait, c.TimeWait}, {descPortsHeld, c.PortsHeld}} {
			rest := 0
			for i, dc := range m.counts { // largest first
				if i < top {
					gauge(m.d, float64(dc.Sockets), ns, dc.Destination.String())
				} else {
					rest += dc.Sockets
				}
			}
			if rest > 0 {
				gauge(m.d, float64(rest), ns, other)
			}
		}
	}
	gauge(descCensusTime, float64(at.UnixNano())/1e9)
	return out
}

// topKeys is the top keys of counts, largest first, ties by less.
func topKeys[K comparable](counts map[K]int, top int, less func(a, b K) int) map[K]bool {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b K) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return less(a, b)
	})
	out := map[K]bool{}
	for _, k := range keys[:min(len(keys), top)] {
		out[k] = true
	}
	return out
}

// A censusCollector answers a scrape with the last census's series, as
// they were made: a scrape does no work but writing them.
type censusCollector struct {
	last atomic.Pointer[[]prometheus.Metric]
}

func (c *censusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSockets, descCloseWaitIdle, descTimeWait, descPortsHeld, descPortRange, descCensusSockets, descCensusTime} {
		ch <- d
	}
}

func (c *censusCollector) Collect(ch chan<- prometheus.Metric) {
	if last := c.last.Load(); last != nil {
		for _, m := range *last {
			ch <- m
		}
	}
}
