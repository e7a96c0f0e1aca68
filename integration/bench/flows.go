package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// The router flows' population: UDP conntrack entries, no sockets, loaded with
// `conntrack -R` (conntrack-tools' batch of -I lines: 120,000 entries in about two
// seconds, where one conntrack -I per entry takes minutes) into a namespace of the
// bench's own. flowTarget is the server whose entries the cut deletes; the others go to
// flowOther and must stay. Each entry's original tuple is its own: a client address of
// 198.51.100.0/24 and a port of 1024 on.
var (
	flowTarget = netip.MustParseAddr("192.0.2.2")
	flowOther  = netip.MustParseAddr("192.0.2.3")
)

// flowShape is 100,000 UDP entries to flowTarget:53 and 20,000 to flowOther:53.
var flowShape = shape{udpTarget: 100000, udpOther: 20000}

// flowsPerClient is how many entries come from one client address (one port each).
const flowsPerClient = 50000

// flowEntries are the entries of s, as the bench compares them: state "UDP", local the
// original source, remote the original destination.
func (s shape) flowEntries() sockSet {
	set := sockSet{}
	for i := range s.udpTarget + s.udpOther {
		set[flowEntry(s, i)] = struct{}{}
	}
	return set
}

func flowEntry(s shape, i int) sock {
	dst := flowTarget
	if i >= s.udpTarget {
		dst = flowOther
	}
	src := netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i/flowsPerClient)})
	return sock{"UDP", netip.AddrPortFrom(src, uint16(1024+i%flowsPerClient)), netip.AddrPortFrom(dst, 53)}
}

// toFlowTarget tells the entries the cut takes.
func toFlowTarget(s sock) bool { return s.remote.Addr() == flowTarget }

// loadFlows writes s's entries to a file of conntrack -R lines and loads them into ns.
// The timeout (an hour) outlives any run.
func loadFlows(ns *namespace, s shape) error {
	f, err := os.CreateTemp("", "tcpreap-bench-flows-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	w := bufio.NewWriter(f)
	for i := range s.udpTarget + s.udpOther {
		e := flowEntry(s, i)
		fmt.Fprintf(w, "-I -p udp -s %s -d %s --sport %d --dport %d -t 3600\n", e.local.Addr(), e.remote.Addr(), e.local.Port(), e.remote.Port())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = output(ns, time.Minute, "conntrack", "-R", f.Name())
	return err
}

// flowSnapshot is every UDP entry in ns as `conntrack -L -p udp` shows it, by its
// original tuple: an oracle that shares no code with tcpreap.
func flowSnapshot(ns *namespace) (sockSet, error) {
	out, err := output(ns, time.Minute, "conntrack", "-L", "-p", "udp")
	if err != nil {
		return nil, err
	}
	set := sockSet{}
	for line := range bytes.Lines(out) {
		// udp 17 3599 src=198.51.100.1 dst=192.0.2.2 sport=1024 dport=53 [UNREPLIED] src=…
		var src, dst, sport, dport string
		for _, f := range strings.Fields(string(line)) {
			k, v, _ := strings.Cut(f, "=")
			switch {
			case k == "src" && src == "":
				src = v
			case k == "dst" && dst == "":
				dst = v
			case k == "sport" && sport == "":
				sport = v
			case k == "dport" && dport == "":
				dport = v
			}
		}
		local, err := parseEnd(src + ":" + sport)
		if err != nil {
			return nil, fmt.Errorf("conntrack -L: %q: %w", line, err)
		}
		remote, err := parseEnd(dst + ":" + dport)
		if err != nil {
			return nil, fmt.Errorf("conntrack -L: %q: %w", line, err)
		}
		set[sock{"UDP", local, remote}] = struct{}{}
	}
	return set, nil
}
