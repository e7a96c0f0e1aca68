package flows

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
)

// A MarkMask selects the entries whose mark, masked, is Value (conntrack
// -L --mark VALUE/MASK).
type MarkMask struct{ Value, Mask uint32 }

// ParseMark parses a mark word: VALUE or VALUE/MASK, each decimal or 0x
// hexadecimal, 32 bits. Its errors start with the word, quoted.
func ParseMark(word string) (MarkMask, error) {
	v, m, hasMask := strings.Cut(strings.TrimSpace(word), "/")
	value, err := parseUint32(v)
	if err != nil {
		return MarkMask{}, fmt.Errorf("%q: %v; give VALUE or VALUE/MASK, like 0x10 or 0x10/0xff", word, err)
	}
	mask := ^uint32(0)
	if hasMask {
		if mask, err = parseUint32(m); err != nil {
			return MarkMask{}, fmt.Errorf("%q: the mask: %v; give VALUE/MASK, like 0x10/0xff", word, err)
		}
	}
	if value&^mask != 0 {
		return MarkMask{}, fmt.Errorf("%q: the value has bits outside the mask, so no entry can match", word)
	}
	return MarkMask{value, mask}, nil
}

// ParseZone parses a zone word: a conntrack zone, 0 to 65535. Its error
// starts with the word, quoted.
func ParseZone(word string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(word), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q: give a conntrack zone, a number from 0 to 65535", word)
	}
	return uint16(n), nil
}

func parseUint32(s string) (uint32, error) {
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = h, 16
	}
	if s == "" || strings.Trim(s, "0123456789abcdef") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return 0, fmt.Errorf("%q does not fit 32 bits", s)
	}
	return uint32(n), nil
}

// A Filter selects flows. Every given selector must hold; values within
// one selector are alternatives. The zero Filter selects every TCP flow.
type Filter struct {
	Protocols []inet.Protocol // none: TCP
	Families  []inet.Family   // none: both
	// Peers: either end of the original direction is one of them (a
	// router's "cut the flows with 192.0.2.34": the client as source or
	// the server as destination). The table keeps IPv4 flows as IPv4:
	// an IPv4 one is selected by IPv4 prefixes, which inet.ParsePrefix
	// makes of v4-mapped ones.
	Peers []inet.Endpoint
	// Ports: either port of the original direction (conntrack --sport or
	// --dport).
	Ports []inet.PortRange
	// States: conntrack's TCP state (conntrack --state); 0 is every state.
	// A UDP flow has none and is not selected by it.
	States TCPStateMask
	// ReplySrc: the source of the reply direction (conntrack --reply-src):
	// with DNAT, the backend the flow was sent to.
	ReplySrc []netip.Prefix
	// Statuses: unreplied or assured (conntrack --status).
	Statuses []StatusWant
	Zone     *uint16   // conntrack --zone
	Mark     *MarkMask // conntrack --mark
}

// HasSelector reports whether the filter narrows the flows down beyond
// protocol and family; one that does not selects the whole table. Every
// state, a mark with mask 0, and peers, ports or reply sources that
// together take in every address or port of the families (as inet judges
// them for sockets too: v4-mapped prefixes as IPv4, peers' ports together)
// take in everything and are no selector.
func (f *Filter) HasSelector() bool {
	return len(f.Peers) > 0 && !inet.CoversPeers(f.Families, f.Peers) ||
		len(f.Ports) > 0 && !inet.CoversPorts(f.Ports) ||
		len(f.ReplySrc) > 0 && !inet.CoversAddrs(f.Families, f.ReplySrc) ||
		f.States != 0 && f.States&AllTCPStates != AllTCPStates ||
		len(f.Statuses) > 0 || f.Zone != nil || f.Mark != nil && f.Mark.Mask != 0
}

func (f *Filter) protocols() []inet.Protocol {
	if len(f.Protocols) == 0 {
		return []inet.Protocol{inet.TCP}
	}
	return f.Protocols
}

// Match reports whether fl is selected by f.
func (f *Filter) Match(fl *Flow) bool {
	if !slices.Contains(f.protocols(), fl.Protocol) {
		return false
	}
	if len(f.Families) > 0 && !slices.Contains(f.Families, fl.Family) {
		return false
	}
	if len(f.Peers) > 0 && !slices.ContainsFunc(f.Peers, func(p inet.Endpoint) bool { return holds(p, fl.Orig.Src) || holds(p, fl.Orig.Dst) }) {
		return false
	}
	if len(f.Ports) > 0 && !slices.ContainsFunc(f.Ports, func(r inet.PortRange) bool { return r.Contains(fl.Orig.Src.Port()) || r.Contains(fl.Orig.Dst.Port()) }) {
		return false
	}
	if f.States != 0 && (fl.Protocol != inet.TCP || !f.States.Has(fl.State)) {
		return false
	}
	if len(f.ReplySrc) > 0 && !slices.ContainsFunc(f.ReplySrc, func(p netip.Prefix) bool { return p.Contains(fl.Reply.Src.Addr()) }) {
		return false
	}
	if len(f.Statuses) > 0 && !slices.ContainsFunc(f.Statuses, func(w StatusWant) bool { return w.holds(fl.Status) }) {
		return false
	}
	if f.Zone != nil && fl.Zone != *f.Zone {
		return false
	}
	if f.Mark != nil && fl.Mark&f.Mark.Mask != f.Mark.Value {
		return false
	}
	return true
}

// holds reports whether ap is one of the peer's addresses and ports.
func holds(p inet.Endpoint, ap netip.AddrPort) bool {
	if !p.Prefix.Contains(ap.Addr()) {
		return false
	}
	return len(p.Ports) == 0 || slices.ContainsFunc(p.Ports, func(r inet.PortRange) bool { return r.Contains(ap.Port()) })
}

// kernelFilter is the part of a Filter the dump request carries.
type kernelFilter struct {
	mark               *MarkMask
	status, statusMask Status
	zone               *uint16
}

// kernel returns what the kernel can filter of f: the mark, the zone, and
// one status word (two are alternatives, which CTA_STATUS cannot say).
func (f *Filter) kernel() kernelFilter {
	k := kernelFilter{mark: f.Mark, zone: f.Zone}
	if len(f.Statuses) == 1 {
		switch f.Statuses[0] {
		case WantUnreplied:
			k.statusMask = SeenReply
		case WantAssured:
			k.status, k.statusMask = Assured, Assured
		}
	}
	return k
}

// dumpFamily is the family a dump asks for: one, or 0 for both.
func (f *Filter) dumpFamily() inet.Family {
	if len(f.Families) == 1 {
		return f.Families[0]
	}
	return 0
}
