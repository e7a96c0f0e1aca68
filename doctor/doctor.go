// Package doctor turns what this host shows into the facts behind the
// runbooks: whether the kernel can destroy sockets, what the TCP sysctls
// really do, which destinations run out of local ports, and who leaks
// CLOSE_WAIT sockets. Each finding names the number it rests on and, where
// something relieves it, carries that remedy as data: the sockets a tcpreap
// run would destroy, or a command of the system's.
package doctor

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Finding is one line of the doctor's report.
type Finding struct {
	// Check is what was looked at, a key that stays the same from host to
	// host and run to run: "sock_destroy", "net.ipv4.tcp_fin_timeout",
	// "ports", "close_wait". What a check of many findings is about is in
	// Of.
	Check  string
	Of     Subject
	Warn   bool    // something to act on
	Says   string  // the sentence, with the number it rests on
	Remedy *Remedy // what relieves it, said after the sentence; nil for none
}

// A Subject is what one finding of a check is about, when the check may
// find several: a destination (ports), a process (close_wait). The zero
// Subject is a check's only finding.
type Subject struct {
	Destination netip.AddrPort
	PID         int
	Command     string
}

// String names the subject after its check: "192.0.2.9:443",
// "postgres[4711]"; "" for none.
func (s Subject) String() string {
	switch {
	case s.Destination.IsValid():
		return s.Destination.String()
	case s.PID != 0:
		return fmt.Sprintf("%s[%d]", s.Command, s.PID)
	}
	return ""
}

// A Remedy is what relieves a finding: a tcpreap run that destroys the
// sockets it selects (every selector given must hold), or a command of the
// system's.
type Remedy struct {
	// Lead is the words that follow the finding's sentence and lead to
	// the command: "relieve it with", "load it".
	Lead string

	States      []sockdiag.State // in one of these states
	Destination netip.AddrPort   // connected to this remote end
	PID         int              // held open by this process
	Stalled     bool             // whose peer stopped acknowledging the data sent

	// Command, when given, is the remedy instead of a tcpreap run: a
	// command of the system's and its arguments ("modprobe", "tcp_diag").
	Command []string
}

// Facts are what the doctor reads: the kernel's abilities, the sysctls (by
// name, as /proc/sys/net has them; a missing one is absent), the census of
// every socket, and the local port range.
type Facts struct {
	Support *sockdiag.Support
	// Own: for TCP and UDP, whether a dump showed a socket of the doctor's
	// own on loopback (Gather looks); nil when not looked.
	Own       map[inet.Protocol]OwnCheck
	Orphans   bool // a destroy of an orphaned socket is truthful (Linux 6.11, or a backport)
	Sysctls   map[string]string
	Census    *census.Census
	PortRange [2]uint16
	// Engines: for each engine beside SOCK_DESTROY's, "" when this host
	// offers it, else why not.
	Engines map[string]string
}

// engineSays is what each engine beside SOCK_DESTROY's does, for its
// finding.
var engineSays = map[string]string{
	"bpf":    "destroys sockets with socket iterators that call bpf_sock_destroy for the planned cookies (Linux 6.5); it cannot take TIME-WAIT sockets",
	"fd":     "destroys a socket through a descriptor of the process that holds it (pidfd_getfd, then a disconnect); it cannot reach TIME-WAIT sockets or orphans",
	"packet": "resets a TCP connection with forged segments after provoking a challenge ACK (CAP_NET_RAW, any kernel); it cannot reach UDP, TIME-WAIT, or a connection whose peer is gone or silent",
}

// pressureWarn is the share of the local port range that one destination
// may hold before the doctor warns.
const pressureWarn = 0.5

// Examine returns the findings, in the order of the report.
func Examine(f Facts) []Finding {
	var out []Finding
	add := func(check string, warn bool, format string, args ...any) {
		out = append(out, Finding{Check: check, Warn: warn, Says: fmt.Sprintf(format, args...)})
	}
	// remedy gives the finding added last its remedy.
	remedy := func(r Remedy) { out[len(out)-1].Remedy = &r }
	for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
		module := p.String() + "_diag"
		own, looked := f.Own[p]
		switch err := f.Support.List[p]; {
		case err != nil:
			add(module, true, "%s sockets cannot be listed: %v", p, err)
		case !looked:
			add(module, false, "%s sockets can be listed (an empty dump answered)", p)
		case own.Err != nil:
			add(module, false, "%s sockets can be listed (an empty dump answered); whether dumps miss none was not checked: %v", p, own.Err)
		case !own.Found:
			add(module, true, "a %s socket of tcpreap's own on %s was not in the dump: the %s module is missing, and every %s listing is empty",
				p, own.Local, module, p)
			remedy(Remedy{Lead: "load it", Command: []string{"modprobe", module}})
		default:
			add(module, false, "%s sockets can be listed: a dump found tcpreap's own on %s", p, own.Local)
		}
		if err := f.Support.Destroy[p]; err != nil {
			add("sock_destroy_"+p.String(), true, "%s sockets cannot be destroyed: %v", p, err)
		} else {
			add("sock_destroy_"+p.String(), false, "this kernel can destroy %s sockets (SOCK_DESTROY of no socket answered ENOENT, not EOPNOTSUPP); doing it needs CAP_NET_ADMIN", p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Engines)) {
		if why := f.Engines[name]; why != "" {
			add("engine_"+name, false, "the %s engine is not offered here: %s", name, why)
		} else {
			add("engine_"+name, false, "the %s engine is offered here: it %s", name, engineSays[name])
		}
	}
	r := f.Support.Release
	add("time_wait_destroy", !r.DestroysTimeWait(), "TIME-WAIT sockets %s be destroyed (Linux %s; 6.0 and later can)", map[bool]string{true: "can", false: "cannot"}[r.DestroysTimeWait()], r)
	if f.Orphans {
		add("orphan_destroy", false, "a destroy of an orphaned socket is truthful here (Linux %s; fixed in 6.11): its answer is trusted", r)
	} else {
		add("orphan_destroy", false, "before Linux 6.11 a destroy of an orphaned socket answered 0 and left it (Linux %s): tcpreap looks again after every TCP destroy", r)
	}
	if v, ok := f.Sysctls["mptcp.enabled"]; ok && v == "1" {
		reach := "no engine offered here stops them or closes MPTCP connections"
		if why, ok := f.Engines["fd"]; ok && why == "" {
			reach = "the fd engine (taken by --engine auto, the default) stops them and closes MPTCP connections at their MPTCP socket"
		}
		add("net.mptcp.enabled", false, "MPTCP is enabled (net.mptcp.enabled = 1): Go 1.24+ servers listen with MPTCP, and SOCK_DESTROY refuses those listeners; %s", reach)
	}

	sysctl := func(name string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(f.Sysctls[name]))
		return n, err == nil
	}
	if n, ok := sysctl("ipv4.tcp_fin_timeout"); ok {
		add("net.ipv4.tcp_fin_timeout", false, "tcp_fin_timeout = %d s: how long an orphaned FIN-WAIT-2 socket lives; it does not shorten TIME-WAIT (60 s, fixed in the kernel)", n)
	}
	if n, ok := sysctl("ipv4.tcp_tw_reuse"); ok {
		says := map[int]string{
			0: "off: outgoing connections never take a TIME-WAIT socket's port",
			1: "new outgoing connections may take the port of a TIME-WAIT socket (with TCP timestamps); incoming ones never",
			2: "only outgoing connections over loopback may take the port of a TIME-WAIT socket (the default)",
		}[n]
		add("net.ipv4.tcp_tw_reuse", false, "tcp_tw_reuse = %d: %s", n, says)
	}
	if _, ok := f.Sysctls["ipv4.tcp_tw_recycle"]; !ok {
		add("net.ipv4.tcp_tw_recycle", false, "tcp_tw_recycle does not exist: it was removed in Linux 4.12 (it broke clients behind NAT); a runbook that sets it is out of date")
	}
	if n, ok := sysctl("ipv4.tcp_max_tw_buckets"); ok {
		tw := 0
		if f.Census != nil {
			tw = f.Census.TimeWaitSockets
		}
		add("net.ipv4.tcp_max_tw_buckets", n > 0 && float64(tw) > 0.8*float64(n), "tcp_max_tw_buckets = %d, %d TIME-WAIT sockets now: beyond it the kernel closes new ones at once (\"TCP: time wait bucket table overflow\")", n, tw)
	}
	size := int(f.PortRange[1]) - int(f.PortRange[0]) + 1
	add("net.ipv4.ip_local_port_range", false, "ip_local_port_range = %d-%d: %d local ports for the outgoing connections to each destination", f.PortRange[0], f.PortRange[1], size)
	if n, ok := sysctl("ipv4.tcp_retries2"); ok {
		add("net.ipv4.tcp_retries2", false, "tcp_retries2 = %d: a connection whose peer vanished keeps retransmitting for about %s before it fails", n, retriesTime(n))
		remedy(Remedy{Lead: "cut it at once with", Stalled: true})
	}
	kt, ok1 := sysctl("ipv4.tcp_keepalive_time")
	ki, ok2 := sysctl("ipv4.tcp_keepalive_intvl")
	kp, ok3 := sysctl("ipv4.tcp_keepalive_probes")
	if ok1 && ok2 && ok3 {
		add("net.ipv4.tcp_keepalive_time", false, "keepalive, where an application turns it on: first probe after %d s idle, then %d probes %d s apart: a dead idle peer is found after %d s", kt, kp, ki, kt+kp*ki)
	}

	if c := f.Census; c != nil {
		for _, d := range c.PortsHeld {
			share := float64(d.Sockets) / float64(max(size, 1))
			if share < pressureWarn {
				continue
			}
			add("ports", true, "%d of the %d local ports are held for %s (%.0f%%: %d in TIME-WAIT); new connections to it will fail with EADDRNOTAVAIL",
				d.Sockets, size, d.Destination, 100*share, timeWaitTo(c, d.Destination.String()))
			out[len(out)-1].Of = Subject{Destination: d.Destination}
			remedy(Remedy{Lead: "relieve it with", States: []sockdiag.State{sockdiag.TimeWait}, Destination: d.Destination})
		}
		for _, h := range c.CloseWait {
			add("close_wait", true, "%s pid %d holds %d CLOSE-WAIT sockets on :%d: it does not close connections its peers closed; fix the application",
				h.Command, h.PID, h.CloseWait, h.CloseWaitPort)
			out[len(out)-1].Of = Subject{PID: h.PID, Command: h.Command}
			remedy(Remedy{Lead: "until then, this frees the kernel's sockets, not the process's file descriptors (EMFILE stays)",
				States: []sockdiag.State{sockdiag.CloseWait}, PID: h.PID})
		}
	}
	return out
}

// Warns reports whether a finding is one to act on.
func Warns(findings []Finding) bool {
	for _, f := range findings {
		if f.Warn {
			return true
		}
	}
	return false
}

// timeWaitTo is how many TIME_WAIT sockets the census counts for a destination.
func timeWaitTo(c *census.Census, dest string) int {
	for _, d := range c.TimeWait {
		if d.Destination.String() == dest {
			return d.Sockets
		}
	}
	return 0
}

// retriesTime is how long tcp_retries2 retransmissions take, with the
// kernel's RTO from 200 ms doubling to its 120 s cap (tcp_retransmit_timer).
func retriesTime(retries int) string {
	rto, total := 0.2, 0.0
	for range retries + 1 {
		total += rto
		rto = min(rto*2, 120)
	}
	if total >= 120 {
		return fmt.Sprintf("%.0f minutes", total/60)
	}
	return fmt.Sprintf("%.0f seconds", total)
}
