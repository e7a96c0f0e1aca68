package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sock is a TCP socket as the bench compares them: its state as ss spells it and its two
// ends. Cookies are left out: they differ between two builds of one population.
type sock struct {
	state         string
	local, remote netip.AddrPort
}

type sockSet map[sock]struct{}

// snapshot is every TCP socket in ns, as `ss -tanH` shows it: an independent view, read
// by neither tcpreap's code nor the floor's; for a population of conntrack entries, its
// UDP entries (flowSnapshot).
func snapshot(ns *namespace, s shape) (sockSet, error) {
	if s.flows() {
		return flowSnapshot(ns)
	}
	out, err := output(ns, time.Minute, "ss", "-tanH")
	if err != nil {
		return nil, err
	}
	set := sockSet{}
	for line := range bytes.Lines(out) {
		// State Recv-Q Send-Q Local:Port Peer:Port
		f := strings.Fields(string(line))
		if len(f) < 5 {
			return nil, fmt.Errorf("ss -tanH: a line without both ends: %q", line)
		}
		local, err := parseEnd(f[3])
		if err != nil {
			return nil, err
		}
		remote, err := parseEnd(f[4])
		if err != nil {
			return nil, err
		}
		set[sock{f[0], local, remote}] = struct{}{}
	}
	return set, nil
}

// parseEnd reads one end as ss -n prints it: 127.0.0.1:5000, [::1]:80, 0.0.0.0:*, *:*;
// a * port is 0.
func parseEnd(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("ss: no port in %q", s)
	}
	host, port := strings.Trim(s[:i], "[]"), s[i+1:]
	var addr netip.Addr
	if host == "*" {
		addr = netip.IPv6Unspecified()
	} else {
		var err error
		if addr, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, fmt.Errorf("ss: %q: %w", s, err)
		}
	}
	var p uint64
	if port != "*" {
		var err error
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return netip.AddrPort{}, fmt.Errorf("ss: %q: %w", s, err)
		}
	}
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

// destroying is what is left of s once the sockets selected tells are destroyed. A
// destroyed socket in a state that sends a reset (tcp_need_reset: ESTABLISHED,
// CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, SYN_RECV) takes the other end of its connection with
// it, when that end is in s too.
func (s sockSet) destroying(selected func(sock) bool) sockSet {
	byEnds := map[[2]netip.AddrPort]sock{}
	for k := range s {
		byEnds[[2]netip.AddrPort{k.local, k.remote}] = k
	}
	out := maps.Clone(s)
	for k := range s {
		if !selected(k) {
			continue
		}
		delete(out, k)
		switch k.state {
		case "ESTAB", "CLOSE-WAIT", "FIN-WAIT-1", "FIN-WAIT-2", "SYN-RECV":
			if other, ok := byEnds[[2]netip.AddrPort{k.remote, k.local}]; ok {
				delete(out, other)
			}
		}
	}
	return out
}

// without is s less the sockets that selected tells.
func (s sockSet) without(selected func(sock) bool) sockSet {
	out := sockSet{}
	for k := range s {
		if !selected(k) {
			out[k] = struct{}{}
		}
	}
	return out
}

// difference is how a set of sockets differs from the one expected, counted by state.
type difference struct {
	missing, extra map[string]int // expected and not there; there and not expected
}

func diff(want, got sockSet) difference {
	d := difference{missing: map[string]int{}, extra: map[string]int{}}
	for k := range want {
		if _, ok := got[k]; !ok {
			d.missing[k.state]++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d.extra[k.state]++
		}
	}
	return d
}

func (d difference) none() bool { return len(d.missing) == 0 && len(d.extra) == 0 }

// String is the difference in a few words: "1 CLOSE-WAIT too many, 2 ESTAB missing".
func (d difference) String() string {
	if d.none() {
		return "as expected"
	}
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(d.extra)) {
		parts = append(parts, fmt.Sprintf("%s %s too many", count(d.extra[st]), st))
	}
	for _, st := range slices.Sorted(maps.Keys(d.missing)) {
		parts = append(parts, fmt.Sprintf("%s %s missing", count(d.missing[st]), st))
	}
	return strings.Join(parts, ", ")
}
