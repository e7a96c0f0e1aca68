package flows

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
)

// A Tuple is one direction of a flow: where its packets come from and go to.
type Tuple struct {
	Src, Dst netip.AddrPort
}

// A Flow is one conntrack entry as a dump shows it.
type Flow struct {
	// ID is the kernel's id of the entry (CTA_ID), which a delete carries so
	// that it deletes this entry and no later one with the same tuple.
	ID       uint32
	Family   inet.Family
	Protocol inet.Protocol
	// Orig is the original direction (as the first packet went), Reply the
	// direction replies take, after NAT: with DNAT, Reply.Src is the
	// backend; with SNAT or masquerade, Reply.Dst is the router's address.
	Orig, Reply Tuple
	Status      Status
	State       TCPState // TCP only; 0 (none) for UDP
	Mark        uint32
	// Zone is the entry's conntrack zone; zoneDir says whether it holds
	// in both directions (CTA_ZONE) or in one alone (CTA_TUPLE_ZONE, as
	// nft's "ct original zone set" or iptables' CT --zone-orig make it).
	Zone    uint16
	zoneDir zoneDir
	// Timeout is how many seconds the entry has left without traffic.
	Timeout uint32
}

func (f Flow) String() string {
	return fmt.Sprintf("%s %s → %s", f.Protocol, f.Orig.Src, f.Orig.Dst)
}

// A Status is the entry's status bits (enum ip_conntrack_status).
type Status uint32

// The status bits tcpreap names.
const (
	Expected   Status = 1 << 0 // IPS_EXPECTED
	SeenReply  Status = 1 << 1 // IPS_SEEN_REPLY
	Assured    Status = 1 << 2 // IPS_ASSURED
	Confirmed  Status = 1 << 3 // IPS_CONFIRMED
	SrcNAT     Status = 1 << 4 // IPS_SRC_NAT
	DstNAT     Status = 1 << 5 // IPS_DST_NAT
	Dying      Status = 1 << 9 // IPS_DYING
	Offloaded  Status = 1 << 14
	HWOffload  Status = 1 << 15
	statusMask        = Expected | SeenReply | Assured | Confirmed | SrcNAT | DstNAT | Dying | Offloaded | HWOffload
)

// Words names the bits a person acts on, as conntrack -L shows them in
// lower case: unreplied (no SEEN_REPLY), assured, snat, dnat, expected,
// dying, offload.
func (s Status) Words() []string {
	w := []string{}
	s.words(func(word string) { w = append(w, word) })
	return w
}

// AppendWords appends Words to b, separated by commas, allocating nothing.
func (s Status) AppendWords(b []byte) []byte {
	n := len(b)
	s.words(func(word string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, word...)
	})
	return b
}

// statusWords are the bits Words names, in its order, after unreplied.
var statusWords = [...]struct {
	bit  Status
	name string
}{{Assured, "assured"}, {SrcNAT, "snat"}, {DstNAT, "dnat"}, {Expected, "expected"}, {Dying, "dying"}, {Offloaded | HWOffload, "offload"}}

func (s Status) words(fn func(string)) {
	if s&SeenReply == 0 {
		fn("unreplied")
	}
	for _, b := range statusWords {
		if s&b.bit != 0 {
			fn(b.name)
		}
	}
}

// A StatusWant is one --status word: unreplied (no reply seen) or assured.
type StatusWant uint8

// The status words.
const (
	WantUnreplied StatusWant = iota + 1 // conntrack -L's [UNREPLIED]
	WantAssured                         // conntrack -L's [ASSURED]
)

// ParseStatuses parses a --status word: "unreplied", "assured", or both,
// comma-separated, in any case.
func ParseStatuses(word string) ([]StatusWant, error) {
	var out []StatusWant
	for _, item := range strings.Split(word, ",") {
		switch strings.ToLower(strings.TrimSpace(item)) {
		case "unreplied":
			out = append(out, WantUnreplied)
		case "assured":
			out = append(out, WantAssured)
		default:
			return nil, fmt.Errorf("%q is not a conntrack status: give unreplied (no reply seen yet) or assured", item)
		}
	}
	return out, nil
}

func (w StatusWant) holds(s Status) bool {
	switch w {
	case WantUnreplied:
		return s&SeenReply == 0
	case WantAssured:
		return s&Assured != 0
	}
	return false
}

// A TCPState is conntrack's view of a TCP flow (enum tcp_conntrack), which
// is not a socket's state: conntrack sees both ends from the middle.
type TCPState uint8

// conntrack's TCP states.
const (
	SynSent   TCPState = 1 // TCP_CONNTRACK_SYN_SENT
	SynRecv   TCPState = 2 // TCP_CONNTRACK_SYN_RECV
	Est       TCPState = 3 // TCP_CONNTRACK_ESTABLISHED
	FinWait   TCPState = 4 // TCP_CONNTRACK_FIN_WAIT
	CloseWait TCPState = 5 // TCP_CONNTRACK_CLOSE_WAIT
	LastAck   TCPState = 6 // TCP_CONNTRACK_LAST_ACK
	TimeWait  TCPState = 7 // TCP_CONNTRACK_TIME_WAIT
	Close     TCPState = 8 // TCP_CONNTRACK_CLOSE
	SynSent2  TCPState = 9 // TCP_CONNTRACK_SYN_SENT2 (simultaneous open)
)

// tcpStateNames is the one table of conntrack's TCP state names, as
// conntrack -L prints them, in lower case.
var tcpStateNames = [...]string{
	SynSent: "syn_sent", SynRecv: "syn_recv", Est: "established", FinWait: "fin_wait",
	CloseWait: "close_wait", LastAck: "last_ack", TimeWait: "time_wait", Close: "close", SynSent2: "syn_sent2",
}

func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) && tcpStateNames[s] != "" {
		return tcpStateNames[s]
	}
	if s == 0 {
		return "none"
	}
	return fmt.Sprintf("state%d", uint8(s))
}

// A TCPStateMask is a set of TCPStates, bit 1<<TCPState.
type TCPStateMask uint16

// AllTCPStates is every state conntrack has.
const AllTCPStates TCPStateMask = 1<<(SynSent2+1) - 1<<SynSent

// Has reports whether s is in m.
func (m TCPStateMask) Has(s TCPState) bool { return m&(1<<s) != 0 }

// ParseTCPStates parses a --state word: names separated by commas, in any
// case, with "-" or "_" (conntrack -L's SYN_SENT, ss's fin-wait), or "all".
// The socket states that conntrack does not have get a hint.
func ParseTCPStates(word string) (TCPStateMask, error) {
	var m TCPStateMask
	for _, item := range strings.Split(word, ",") {
		name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(item)), "-", "_")
		switch name {
		case "all":
			m |= AllTCPStates
			continue
		case "fin_wait1", "fin_wait_1", "fin_wait2", "fin_wait_2", "closing":
			return 0, fmt.Errorf("%q is a socket state; conntrack sees both ends and names it fin_wait", item)
		case "listen", "listening":
			return 0, fmt.Errorf("%q: conntrack has no listening entries; a listener is no flow", item)
		case "estab":
			name = "established"
		}
		found := false
		for s, n := range tcpStateNames {
			if n != "" && n == name {
				m |= 1 << s
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%q is not a conntrack TCP state: give %s or all", item, strings.Join(stateList(), " "))
		}
	}
	return m, nil
}

func stateList() []string {
	var out []string
	for _, n := range tcpStateNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// A zoneDir is the direction a flow's zone holds in.
type zoneDir uint8

const (
	zoneBoth  zoneDir = iota // CTA_ZONE: both directions
	zoneOrig                 // CTA_TUPLE_ZONE of the original tuple alone
	zoneReply                // CTA_TUPLE_ZONE of the reply tuple alone
)
