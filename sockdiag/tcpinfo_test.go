package sockdiag

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
)

// TestTCPInfoOf finds struct tcp_info among the attributes, as Linux 6.x
// sends it (232 bytes and growing), after another attribute.
func TestTCPInfoOf(t *testing.T) {
	info := make([]byte, 232)
	info[2], info[4] = 3, 2                          // retransmits, backoff
	binary.NativeEndian.PutUint32(info[24:], 5)      // unacked
	binary.NativeEndian.PutUint32(info[44:], 90000)  // last_data_sent, ms
	binary.NativeEndian.PutUint32(info[52:], 120000) // last_data_recv
	binary.NativeEndian.PutUint32(info[56:], 31000)  // last_ack_recv
	binary.NativeEndian.PutUint32(info[68:], 1500)   // rtt, µs
	attrs := append(attr(5, []byte{1, 2, 3}), attr(inetDiagInfo, info)...)
	got, ok := tcpInfoOf(attrs)
	want := TCPInfo{Retransmits: 3, Backoff: 2, Unacked: 5, LastDataSent: 90 * time.Second, LastDataRecv: 120 * time.Second,
		LastAckRecv: 31 * time.Second, RTT: 1500 * time.Microsecond}
	if !ok || got != want || got.Idle() != 90*time.Second {
		t.Errorf("tcpInfoOf = %+v, %v; want %+v", got, ok, want)
	}
	for _, bad := range [][]byte{nil, attr(inetDiagInfo, info[:40]), attrs[:10], {0xff, 0xff, 2, 0}} {
		if _, ok := tcpInfoOf(bad); ok {
			t.Errorf("tcpInfoOf(% x…) read a tcp_info", bad[:min(len(bad), 8)])
		}
	}
}

// TestMatchInfoSynchronizedOnly: a SYN_SENT socket, whose tcp_info times
// count from zero (hours), is never idle or stalled; an ESTABLISHED one
// with the same numbers is.
func TestMatchInfoSynchronizedOnly(t *testing.T) {
	info := make([]byte, 232)
	info[2] = 3
	binary.NativeEndian.PutUint32(info[24:], 1)
	for _, off := range []int{44, 52, 56} {
		binary.NativeEndian.PutUint32(info[off:], 16135464)
	}
	attrs := attr(inetDiagInfo, info)
	f := &Filter{Idle: time.Minute, Stalled: time.Minute}
	for st, want := range map[State]bool{SynSent: false, SynRecv: false, Listen: false, Established: true, CloseWait: true} {
		s := Socket{Protocol: inet.TCP, Family: inet.IPv4, State: st}
		if got := f.MatchInfo(&s, attrs); got != want {
			t.Errorf("%s: MatchInfo = %v, want %v", st, got, want)
		}
	}
}

// TestParseInfoDuration: each wrong --idle gets the sentence for its mistake.
func TestParseInfoDuration(t *testing.T) {
	for word, want := range map[string]string{
		"90s":       "",
		"1193h":     "",
		"1194h":     "1194h is out of range: the kernel counts these times in milliseconds up to 49 days (1193h0m0s); give at most 1193h0m0s",
		"99999999h": "99999999h is out of range",
		"1e9h":      "give a duration above zero",
		"10":        "give a unit: 10s, 10m or 10h",
		"0s":        "give a duration above zero",
		"-5m":       "give a duration above zero",
		"5 minutes": "give a duration above zero",
	} {
		_, err := ParseInfoDuration(word)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("--idle %s: %v, want %q", word, err, want)
		}
	}
}
