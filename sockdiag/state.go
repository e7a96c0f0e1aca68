package sockdiag

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// A State is a TCP state as the kernel numbers it (include/net/tcp_states.h).
// UDP sockets use Established when connected and Close when not.
type State uint8

// The kernel's TCP states.
const (
	Established State = 1  // TCP_ESTABLISHED
	SynSent     State = 2  // TCP_SYN_SENT
	SynRecv     State = 3  // TCP_SYN_RECV
	FinWait1    State = 4  // TCP_FIN_WAIT1
	FinWait2    State = 5  // TCP_FIN_WAIT2
	TimeWait    State = 6  // TCP_TIME_WAIT
	Close       State = 7  // TCP_CLOSE
	CloseWait   State = 8  // TCP_CLOSE_WAIT
	LastAck     State = 9  // TCP_LAST_ACK
	Listen      State = 10 // TCP_LISTEN
	Closing     State = 11 // TCP_CLOSING
	// newSynRecv is a request socket; the kernel reports it as SynRecv.
	newSynRecv State = 12 // TCP_NEW_SYN_RECV
)

// stateNames is the one table of state names: the canonical name used by
// selections and in JSON, and the label ss prints.
var stateNames = [...]struct{ name, label string }{
	Established: {"established", "ESTAB"},
	SynSent:     {"syn_sent", "SYN-SENT"},
	SynRecv:     {"syn_recv", "SYN-RECV"},
	FinWait1:    {"fin_wait1", "FIN-WAIT-1"},
	FinWait2:    {"fin_wait2", "FIN-WAIT-2"},
	TimeWait:    {"time_wait", "TIME-WAIT"},
	Close:       {"close", "UNCONN"},
	CloseWait:   {"close_wait", "CLOSE-WAIT"},
	LastAck:     {"last_ack", "LAST-ACK"},
	Listen:      {"listen", "LISTEN"},
	Closing:     {"closing", "CLOSING"},
}

// String returns the canonical name, as ParseStates takes it: "close_wait".
func (s State) String() string {
	if s == newSynRecv {
		s = SynRecv
	}
	if int(s) < len(stateNames) && stateNames[s].name != "" {
		return stateNames[s].name
	}
	return fmt.Sprintf("state%d", uint8(s))
}

// Label returns the name ss prints for the state: "CLOSE-WAIT".
func (s State) Label() string {
	if s == newSynRecv {
		s = SynRecv
	}
	if int(s) < len(stateNames) && stateNames[s].label != "" {
		return stateNames[s].label
	}
	return strings.ToUpper(s.String())
}

// A StateMask is a set of states, bit 1<<State, as idiag_states takes it.
type StateMask uint32

// Masks for the groups ss defines (misc/ss.c); Unknown (bit 0) is left out.
const (
	AllStates StateMask = 1<<(Closing+1) - 1<<Established
	// Connected is every state but listen and close.
	Connected = AllStates &^ (1<<Listen | 1<<Close)
	// Synchronized is every connected state but syn_sent.
	Synchronized = Connected &^ (1 << SynSent)
	// Bucket is the states the kernel keeps as minisockets.
	Bucket StateMask = 1<<SynRecv | 1<<TimeWait
	// Big is the opposite of Bucket.
	Big = AllStates &^ Bucket
)

// Has reports whether s is in the mask; a request socket counts as SynRecv.
func (m StateMask) Has(s State) bool {
	if s == newSynRecv {
		s = SynRecv
	}
	return s < 32 && m&(1<<s) != 0
}

// States lists the states in the mask in the kernel's order.
func (m StateMask) States() []State {
	out := make([]State, 0, bits.OnesCount32(uint32(m)))
	for s := Established; s <= Closing; s++ {
		if m.Has(s) {
			out = append(out, s)
		}
	}
	return out
}

// kernelMask is the idiag_states value for a dump: asking for syn_recv must
// also ask for the request sockets that carry it since Linux 4.4.
func (m StateMask) kernelMask() uint32 {
	if m.Has(SynRecv) {
		m |= 1 << newSynRecv
	}
	return uint32(m)
}

var stateGroups = map[string]StateMask{
	"all":          AllStates,
	"connected":    Connected,
	"synchronized": Synchronized,
	"bucket":       Bucket,
	"big":          Big,
}

// ss spells some states differently; these are accepted as well.
var stateAliases = map[string]State{
	"fin_wait_1":  FinWait1,
	"fin_wait_2":  FinWait2,
	"listening":   Listen,
	"closed":      Close,
	"unconnected": Close,
}

// ParseStates parses a state word: names and groups separated by commas, in
// any case, with "-" or "_" (ss's spellings too); the equivalent of ss's
// "state" filter. It returns the states selected.
func ParseStates(word string) (StateMask, error) {
	var selected StateMask
	for _, item := range strings.Split(word, ",") {
		key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(item)), "-", "_")
		if g, ok := stateGroups[key]; ok {
			selected |= g
			continue
		}
		s, ok := stateAliases[key]
		if !ok {
			s, ok = stateByName(key)
		}
		if !ok {
			return 0, fmt.Errorf("unknown state %q; use one of %s, or a group: all, connected, synchronized, bucket, big", item, strings.Join(stateNameList(), " "))
		}
		selected |= 1 << s
	}
	return selected, nil
}

// StateWords lists the words ParseStates takes for one state or group: the
// canonical names in the kernel's order, then the groups; ss's spellings are
// left out. A shell completes --state with them.
func StateWords() []string {
	return append(stateNameList(), slices.Sorted(maps.Keys(stateGroups))...)
}

func stateByName(name string) (State, bool) {
	for s, n := range stateNames {
		if n.name != "" && n.name == name {
			return State(s), true
		}
	}
	return 0, false
}

func stateNameList() []string {
	var names []string
	for _, n := range stateNames {
		if n.name != "" {
			names = append(names, n.name)
		}
	}
	return names
}

// ListenNamed reports whether a word of states names the LISTEN state itself
// or every state: only then may LISTEN sockets be destroyed. A group that
// merely contains listen ("big") shows them as kept back.
func ListenNamed(word string) bool {
	for _, item := range strings.Split(word, ",") {
		m, err := ParseStates(item)
		if err == nil && (m == 1<<Listen || m == AllStates) {
			return true
		}
	}
	return false
}
