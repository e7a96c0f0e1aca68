package testnet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Socket is one TCP or UDP socket as ss(8) shows it. Tests assert on this view, which comes
// from iproute2's own decoder and so does not share tcpreap's mistakes.
type Socket struct {
	Proto  string // "tcp" or "udp"
	State  string // tcpreap's spelling: "established", "close_wait", "close" for an unconnected UDP socket, …
	Local  netip.AddrPort
	Remote netip.AddrPort
	Cookie uint64 // ss's sk: field, the same number as SO_COOKIE
}

func (s Socket) String() string {
	return fmt.Sprintf("%s %s %s -> %s cookie %d", s.Proto, s.State, s.Local, s.Remote, s.Cookie)
}

// Sockets is a dump of one namespace.
type Sockets []Socket

// Find returns the socket with this local and remote end, if there is one.
func (ss Sockets) Find(local, remote netip.AddrPort) (Socket, bool) {
	for _, s := range ss {
		if s.Local == local && s.Remote == remote {
			return s, true
		}
	}
	return Socket{}, false
}

// Cookie returns the socket with this cookie, if there is one.
func (ss Sockets) Cookie(c uint64) (Socket, bool) {
	for _, s := range ss {
		if s.Cookie == c {
			return s, true
		}
	}
	return Socket{}, false
}

func (ss Sockets) String() string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("\n\t")
		b.WriteString(s.String())
	}
	return b.String()
}

// Sockets lists every TCP and UDP socket in h, listeners included, by running
// `ss -Htanue` in it (one fork and a netlink dump, a few milliseconds).
func (h *Host) Sockets() (Sockets, error) {
	res, err := h.Run("ss", "-Htanue")
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, fmt.Errorf("ss in %s: exit %d: %s", h.Name, res.Code, res.Stderr)
	}
	return parseSS(res.Stdout)
}

// Await polls h's sockets until ok accepts them, for up to five seconds, so tests wait for
// the kernel instead of sleeping. The error names what was awaited and shows the last view.
func (h *Host) Await(what string, ok func(Sockets) bool) (Sockets, error) {
	return h.AwaitFor(what, 5*time.Second, ok)
}

// AwaitFor is Await with a time limit of its own, for what takes long (tens of
// thousands of sockets, on a busy machine).
func (h *Host) AwaitFor(what string, limit time.Duration, ok func(Sockets) bool) (Sockets, error) {
	deadline := time.Now().Add(limit)
	for {
		ss, err := h.Sockets()
		if err != nil {
			return nil, err
		}
		if ok(ss) {
			return ss, nil
		}
		if time.Now().After(deadline) {
			return ss, fmt.Errorf("%s: timed out waiting for %s; sockets:%s", h.Name, what, ss)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AwaitState waits until the socket local→remote is in state.
func (h *Host) AwaitState(local, remote netip.AddrPort, state string) error {
	_, err := h.Await(fmt.Sprintf("%s -> %s in %s", local, remote, state), func(ss Sockets) bool {
		s, ok := ss.Find(local, remote)
		return ok && s.State == state
	})
	return err
}

// AwaitGone waits until no socket local→remote is left.
func (h *Host) AwaitGone(local, remote netip.AddrPort) error {
	_, err := h.Await(fmt.Sprintf("%s -> %s to be gone", local, remote), func(ss Sockets) bool {
		_, ok := ss.Find(local, remote)
		return !ok
	})
	return err
}

// ssStates maps ss's state names to tcpreap's. ss calls TCP_CLOSE "UNCONN", which for UDP
// is an unconnected socket.
var ssStates = map[string]string{
	"ESTAB":      "established",
	"SYN-SENT":   "syn_sent",
	"SYN-RECV":   "syn_recv",
	"FIN-WAIT-1": "fin_wait1",
	"FIN-WAIT-2": "fin_wait2",
	"TIME-WAIT":  "time_wait",
	"UNCONN":     "close",
	"CLOSE-WAIT": "close_wait",
	"LAST-ACK":   "last_ack",
	"LISTEN":     "listen",
	"CLOSING":    "closing",
}

// parseSS reads `ss -Htanue` output: netid, state, Recv-Q, Send-Q, local, peer, then
// extended fields, of which only sk: (the cookie, hex) is used.
func parseSS(out string) (Sockets, error) {
	var ss Sockets
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 6 {
			return nil, fmt.Errorf("ss: short line %q", line)
		}
		state, ok := ssStates[f[1]]
		if !ok {
			return nil, fmt.Errorf("ss: unknown state %q in %q", f[1], line)
		}
		local, err := parseEndpoint(f[4])
		if err != nil {
			return nil, fmt.Errorf("ss: %v in %q", err, line)
		}
		remote, err := parseEndpoint(f[5])
		if err != nil {
			return nil, fmt.Errorf("ss: %v in %q", err, line)
		}
		s := Socket{Proto: f[0], State: state, Local: local, Remote: remote}
		for _, x := range f[6:] {
			if hex, ok := strings.CutPrefix(x, "sk:"); ok {
				if s.Cookie, err = strconv.ParseUint(hex, 16, 64); err != nil {
					return nil, fmt.Errorf("ss: bad cookie %q in %q", x, line)
				}
			}
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// parseEndpoint reads ss's "addr:port", "[v6]:port", "addr%dev:port" and "*:*". ss writes
// the IPv6 any address as "*" (IPv4's as 0.0.0.0), so "*" becomes [::]; a "*" port is 0.
func parseEndpoint(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("bad endpoint %q", s)
	}
	host, port := s[:i], s[i+1:]
	var p uint64
	if port != "*" {
		var err error
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
		}
	}
	host, _, _ = strings.Cut(host, "%")
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a := netip.IPv6Unspecified()
	if host != "*" {
		var err error
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, fmt.Errorf("bad address in %q", s)
		}
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}
