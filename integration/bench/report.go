package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is the results as Markdown: a line saying when and where, the population, a
// table of times and ratios, and a table of what each tool did.
func (b *bench) report() string {
	var w strings.Builder
	s := standard
	fmt.Fprintf(&w, "`make bench`, %s: Linux %s, %s; %s; ss from %s.\n\n",
		b.started.Format("2006-01-02"), b.kernel, b.cpu, b.version, b.ssVersion)
	all := s.sockets()
	peerSockets := len(all) - len(all.without(fromPeer))
	fmt.Fprintf(&w, "Population: %s TCP sockets over loopback on 127.0.0.0/8, in a network namespace of the bench's own: "+
		"%s ESTABLISHED (%s connections), %s CLOSE-WAIT with their %s FIN-WAIT-2 peers, %s TIME-WAIT and %d LISTEN, "+
		"held by %d processes; %s of them (ESTABLISHED and CLOSE-WAIT) have the peer %s. "+
		"Each run that destroys gets a population of its own, built afresh (not timed) and checked to be socket for socket the same; "+
		"a listing's tools share one per round. Time is the wall time of the tool's whole process, the median of %s "+
		"(min–max), the tools alternating; CPU is the user and system time wait4 counts of every thread of the tool's process, "+
		"median (min–max): on a shared machine it moves less than the wall time; "+
		"peak RSS is wait4's ru_maxrss, the highest of the rounds (true(1) reads %s).\n\n",
		count(len(all)), count(2*s.established), count(s.established), count(s.closeWait), count(s.closeWait),
		count(s.timeWait), 3*s.workers, s.workers, count(peerSockets), peer, plural(b.rounds, "round"), mib(b.baseRSS))
	fmt.Fprintf(&w, "The listing with owners (`-p`: the processes that hold each socket) has the same ESTABLISHED and CLOSE-WAIT connections "+
		"held by %d processes (and %d LISTEN), no TIME-WAIT. "+
		"The last case has a population of its own, %s TIME-WAIT sockets and the listeners, and one round: "+
		"tcpreap's peak RSS for a plan of %s targets. "+
		"Left behind is what the kernel shows after the run, compared by state and 4-tuple with the population less "+
		"the sockets the case selects and the other ends their resets closed; ss -K's runs that differ are shown, not failed.\n\n",
		manyOwners.workers, 3*manyOwners.workers, count(bigTimeWait.timeWait), count(bigTimeWait.timeWait))
	fmt.Fprintf(&w, "The engines' table puts tcpreap with its bpf engine (--engine bpf: socket iterators that call bpf_sock_destroy) "+
		"beside the same reap with SOCK_DESTROY (--engine diag, the tcpreap column), each on a population of its own in the same rounds: "+
		"wall time, and the CPU time wait4 counts of every thread of the process, system (the kernel's work in its syscalls) and user. "+
		"The TIME-WAIT reap has no bpf run: bpf_sock_destroy takes full sockets only.\n\n")
	fmt.Fprintf(&w, "The conntrack cases measure tcpreap conntrack against conntrack(8) of conntrack-tools, in the ss column, on %s UDP "+
		"conntrack entries loaded with conntrack -R into a namespace of their own (no sockets): %s to %s:53, %s to %s:53. "+
		"The cut deletes the first %s; left behind is what conntrack -L shows afterwards, compared by original tuple.\n\n",
		count(flowShape.udpTarget+flowShape.udpOther), count(flowShape.udpTarget), flowTarget, count(flowShape.udpOther), flowOther,
		count(flowShape.udpTarget))

	w.WriteString("| case | ss | tcpreap | floor | ss / tcpreap | tcpreap / floor | targets |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for ci, c := range b.cases {
		rs := b.results[ci]
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s | %s |\n", c.name,
			timeCell(rs[ssTool]), timeCell(rs[tcpreapTool]), timeCell(rs[floorTool]),
			ratio(rs[ssTool], rs[tcpreapTool]), ratio(rs[tcpreapTool], rs[floorTool]), goals(c, rs))
	}

	b.engines(&w)

	w.WriteString("\n| case | tool | command | sockets/s | CPU | peak RSS | left behind |\n")
	w.WriteString("|---|---|---|---:|---:|---:|---|\n")
	for ci, c := range b.cases {
		for t := range tools {
			ms := b.results[ci][t]
			if c.argv[t] == nil || len(ms) == 0 {
				continue
			}
			rate := "—"
			if med, ok := median(ms); ok {
				rate = count(int(float64(b.expect[ci].work) / med.Seconds()))
			}
			fmt.Fprintf(&w, "| %s | %s | `%s` | %s | %s | %s | %s |\n", c.name, toolNames[t], display(c.argv[t]),
				rate, spanCell(ms, cpu), mib(peakRSS(ms)), leftCell(len(b.expect[ci].left), ms))
		}
	}
	return w.String()
}

// engines is the table of the cases that run tcpreap with both engines, SOCK_DESTROY
// (diag, the tcpreap column) and bpf: the wall time and the system time (the kernel's
// work in tcpreap's syscalls, every thread's) of each, and bpf / diag of each.
func (b *bench) engines(w *strings.Builder) {
	var rows []string
	for ci, c := range b.cases {
		if c.argv[bpfTool] == nil {
			continue
		}
		rs := b.results[ci]
		diag, bpf := rs[tcpreapTool], rs[bpfTool]
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.name,
			timeCell(diag), timeCell(bpf), ratio(bpf, diag),
			spanCell(diag, system), spanCell(bpf, system), ratioOf(bpf, diag, system),
			spanCell(diag, user), spanCell(bpf, user)))
	}
	if len(rows) == 0 {
		return
	}
	w.WriteString("\n| case | diag wall | bpf wall | bpf / diag | diag system | bpf system | bpf / diag | diag user | bpf user |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		w.WriteString(r)
	}
}

// The times a measurement has: wall, user and system.
func wall(m measurement) time.Duration   { return m.elapsed }
func user(m measurement) time.Duration   { return m.user }
func system(m measurement) time.Duration { return m.system }
func cpu(m measurement) time.Duration    { return m.user + m.system }

// median is the median wall time of ms, if every run succeeded.
func median(ms []measurement) (time.Duration, bool) { return medianOf(ms, wall) }

// medianOf is the median of one of the times of ms, if every run succeeded.
func medianOf(ms []measurement, of func(measurement) time.Duration) (time.Duration, bool) {
	if len(ms) == 0 {
		return 0, false
	}
	var ts []time.Duration
	for _, m := range ms {
		if m.err != nil {
			return 0, false
		}
		ts = append(ts, of(m))
	}
	slices.Sort(ts)
	if len(ts)%2 == 1 {
		return ts[len(ts)/2], true
	}
	return (ts[len(ts)/2-1] + ts[len(ts)/2]) / 2, true
}

func timeCell(ms []measurement) string { return spanCell(ms, wall) }

// spanCell is the median of one of the times of ms, with the least and the most in
// brackets.
func spanCell(ms []measurement, of func(measurement) time.Duration) string {
	if len(ms) == 0 {
		return "—"
	}
	med, ok := medianOf(ms, of)
	if !ok {
		return "failed"
	}
	lo := of(slices.MinFunc(ms, func(a, b measurement) int { return int(of(a) - of(b)) }))
	hi := of(slices.MaxFunc(ms, func(a, b measurement) int { return int(of(a) - of(b)) }))
	if len(ms) == 1 {
		return millis(med)
	}
	return fmt.Sprintf("%s (%s–%s)", millis(med), strings.TrimSuffix(millis(lo), " ms"), millis(hi))
}

func ratio(num, den []measurement) string { return ratioOf(num, den, wall) }

// ratioOf is the ratio of the medians of one of the times of num and den.
func ratioOf(num, den []measurement, of func(measurement) time.Duration) string {
	a, ok1 := medianOf(num, of)
	b, ok2 := medianOf(den, of)
	if !ok1 || !ok2 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
}

func medianRatio(num, den []measurement) (float64, bool) {
	a, ok1 := median(num)
	b, ok2 := median(den)
	return a.Seconds() / b.Seconds(), ok1 && ok2
}

// goals is c's targets, each marked met (✓), not met (✗) or not measured (?).
func goals(c benchCase, rs [tools][]measurement) string {
	var out []string
	for _, g := range c.goals {
		var text string
		var value float64
		ok := true
		if g.den == tools {
			ok = len(rs[g.num]) > 0 && rs[g.num][0].err == nil
			value = float64(peakRSS(rs[g.num])) / (1 << 20)
			text = fmt.Sprintf("%s's peak RSS", toolNames[g.num])
			if ok {
				text += " (" + mib(peakRSS(rs[g.num])) + ")"
			}
		} else {
			text = toolNames[g.num] + " / " + toolNames[g.den]
			value, ok = medianRatio(rs[g.num], rs[g.den])
		}
		op, unit, met := "≤", "", value <= g.bound
		switch {
		case g.atLeast:
			op, met = "≥", value >= g.bound
		case g.den == tools:
			op, unit, met = "<", " MiB", value < g.bound
		}
		mark := "?"
		if ok {
			mark = "✗"
			if met {
				mark = "✓"
			}
		}
		out = append(out, fmt.Sprintf("%s %s %g%s %s", text, op, g.bound, unit, mark))
	}
	return strings.Join(out, ", ")
}

func peakRSS(ms []measurement) int64 {
	var peak int64
	for _, m := range ms {
		peak = max(peak, m.maxRSS)
	}
	return peak
}

// leftCell says what the runs left behind: the count expected, and how any run
// differed.
func leftCell(remaining int, ms []measurement) string {
	var odd []string
	for _, m := range ms {
		switch {
		case m.err != nil:
			odd = append(odd, fmt.Sprintf("round %d failed", m.round))
		case !m.left.none():
			odd = append(odd, fmt.Sprintf("round %d: %s", m.round, m.left))
		}
	}
	if len(odd) == 0 {
		return count(remaining) + ", as expected"
	}
	return "**" + strings.Join(odd, "; ") + "**"
}

func millis(d time.Duration) string {
	return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
}

func mib(bytes int64) string {
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}

// count is n with thousands separated by commas: 190,030.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return count(n) + " " + what + "s"
}
