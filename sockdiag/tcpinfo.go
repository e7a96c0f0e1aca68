package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

var errShortInfo = errors.New("struct tcp_info shorter than its fields of Linux 2.6")

// TCPInfo is what tcpreap reads of a TCP socket's struct tcp_info
// (INET_DIAG_INFO, the TCP_INFO of getsockopt): the fields that tell an idle
// connection and one whose peer has gone. The struct grows with every
// kernel; these fields are at the same offsets since Linux 2.6.
type TCPInfo struct {
	Retransmits uint8  // tcpi_retransmits: timeouts of the oldest unacknowledged segment in a row
	Backoff     uint8  // tcpi_backoff: doublings of the retransmission timeout
	Unacked     uint32 // tcpi_unacked: segments sent and not yet acknowledged
	// Since the last data sent, the last data received and the last ack
	// received (tcpi_last_data_sent, _last_data_recv, _last_ack_recv).
	LastDataSent, LastDataRecv, LastAckRecv time.Duration
	RTT                                     time.Duration // tcpi_rtt, smoothed
}

// tcpInfoLen is how much of struct tcp_info TCPInfo reads, to tcpi_rttvar.
const tcpInfoLen = 76

// Idle is how long the connection has neither sent nor received data.
func (i *TCPInfo) Idle() time.Duration { return min(i.LastDataSent, i.LastDataRecv) }

// UnmarshalBinary reads the fields from a struct tcp_info of at least
// tcpInfoLen bytes.
func (i *TCPInfo) UnmarshalBinary(b []byte) error {
	if len(b) < tcpInfoLen {
		return errShortInfo
	}
	ms := func(off int) time.Duration {
		return time.Duration(binary.NativeEndian.Uint32(b[off:])) * time.Millisecond
	}
	*i = TCPInfo{
		Retransmits:  b[2],
		Backoff:      b[4],
		Unacked:      binary.NativeEndian.Uint32(b[24:]),
		LastDataSent: ms(44),
		LastDataRecv: ms(52),
		LastAckRecv:  ms(56),
		RTT:          time.Duration(binary.NativeEndian.Uint32(b[68:])) * time.Microsecond,
	}
	return nil
}

// tcpInfoOf finds INET_DIAG_INFO among the attributes that follow an
// inet_diag_msg and reads it.
func tcpInfoOf(attrs []byte) (TCPInfo, bool) {
	v, ok := attrOf(attrs, inetDiagInfo)
	var i TCPInfo
	return i, ok && i.UnmarshalBinary(v) == nil
}

// cgroupOf finds INET_DIAG_CGROUP_ID among the attributes: the id of the
// socket's cgroup v2 group (Linux 5.9 and later, unasked).
func cgroupOf(attrs []byte) (uint64, bool) {
	v, ok := attrOf(attrs, inetDiagCgroupID)
	if !ok || len(v) < 8 {
		return 0, false
	}
	return binary.NativeEndian.Uint64(v), true
}

// attrOf returns the value of the first attribute of type typ, walking the
// attributes without allocating.
func attrOf(attrs []byte, typ uint16) ([]byte, bool) {
	for len(attrs) >= nlaHdrLen {
		n := int(binary.NativeEndian.Uint16(attrs[0:2]))
		t := binary.NativeEndian.Uint16(attrs[2:4]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if n < nlaHdrLen || n > len(attrs) {
			return nil, false
		}
		if t == typ {
			return attrs[nlaHdrLen:n], true
		}
		attrs = attrs[min((n+3)&^3, len(attrs)):]
	}
	return nil, false
}

// MaxInfoDuration is the longest time struct tcp_info can say: its
// tcpi_last_* times are milliseconds in 32 bits (49 days 17 hours). A longer
// Idle or Stalled could select nothing.
const MaxInfoDuration = time.Duration(math.MaxUint32) * time.Millisecond

// durationSyntax is a duration as time.ParseDuration reads it, whatever its
// size: one that fails to parse with it overflowed.
var durationSyntax = regexp.MustCompile(`^\+?([0-9]*\.?[0-9]+(ns|us|µs|μs|ms|s|m|h))+$`)

// ParseInfoDuration reads a duration with its unit ("90s", "10m"), above
// zero and at most MaxInfoDuration, for Filter.Idle and Filter.Stalled. An
// error starts with the word.
func ParseInfoDuration(word string) (time.Duration, error) {
	w := strings.TrimSpace(word)
	d, err := time.ParseDuration(w)
	switch {
	case err == nil && d > MaxInfoDuration || err != nil && durationSyntax.MatchString(w):
		return 0, fmt.Errorf("%s is out of range: the kernel counts these times in milliseconds up to 49 days (%v); give at most %v",
			w, MaxInfoDuration.Truncate(time.Hour), MaxInfoDuration.Truncate(time.Hour))
	case err == nil && d > 0:
		return d, nil
	case w != "" && strings.Trim(w, "0123456789") == "":
		return 0, fmt.Errorf("%s: give a unit: %ss, %sm or %sh", word, word, word, word)
	}
	return 0, fmt.Errorf("%q: give a duration above zero with its unit, such as 90s, 10m or 2h", word)
}
