package sockdiag

import (
	"encoding/binary"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
)

// A Socket is one socket as a dump reports it: struct inet_diag_msg, plus the
// protocol of the dump it came from.
type Socket struct {
	Protocol inet.Protocol
	// Family: an IPv6 socket that carries an IPv4 connection (a v4-mapped
	// address) is of family IPv6.
	Family  inet.Family
	State   State
	Timer   uint8  // idiag_timer
	Retrans uint8  // idiag_retrans
	ID      SockID // idiag_id
	Expires uint32 // idiag_expires, milliseconds
	RecvQ   uint32 // idiag_rqueue
	SendQ   uint32 // idiag_wqueue
	UID     uint32 // idiag_uid
	Inode   uint32 // idiag_inode; 0 for sockets no process holds
}

// socketMsgLen is sizeof(struct inet_diag_msg).
const socketMsgLen = 72

// UnmarshalBinary decodes a struct inet_diag_msg. The attributes that may
// follow it are not read. Protocol is left as it was: the message does not
// carry it.
func (s *Socket) UnmarshalBinary(b []byte) error {
	if len(b) < socketMsgLen {
		return fmt.Errorf("inet_diag_msg of %d bytes, want at least %d", len(b), socketMsgLen)
	}
	id, err := unmarshalSockID(b[4:4+sockIDLen], b[0])
	if err != nil {
		return err
	}
	s.Family = inet.Family(b[0])
	s.State = State(b[1])
	if s.State == newSynRecv {
		s.State = SynRecv
	}
	s.Timer = b[2]
	s.Retrans = b[3]
	s.ID = id
	s.Expires = binary.NativeEndian.Uint32(b[52:56])
	s.RecvQ = binary.NativeEndian.Uint32(b[56:60])
	s.SendQ = binary.NativeEndian.Uint32(b[60:64])
	s.UID = binary.NativeEndian.Uint32(b[64:68])
	s.Inode = binary.NativeEndian.Uint32(b[68:72])
	return nil
}

// MarshalBinary encodes the socket as struct inet_diag_msg, as the kernel
// would send it. It serves test fakes of the kernel.
func (s Socket) MarshalBinary() ([]byte, error) {
	b := make([]byte, socketMsgLen)
	b[0] = uint8(s.Family)
	b[1] = uint8(s.State)
	b[2] = s.Timer
	b[3] = s.Retrans
	if err := s.ID.marshal(b[4 : 4+sockIDLen]); err != nil {
		return nil, err
	}
	binary.NativeEndian.PutUint32(b[52:56], s.Expires)
	binary.NativeEndian.PutUint32(b[56:60], s.RecvQ)
	binary.NativeEndian.PutUint32(b[60:64], s.SendQ)
	binary.NativeEndian.PutUint32(b[64:68], s.UID)
	binary.NativeEndian.PutUint32(b[68:72], s.Inode)
	return b, nil
}

// timerTimeWait is the idiag_timer of a timewait socket (inet_twsk_diag_fill).
const timerTimeWait = 3

// timerNames are the kinds of idiag_timer, as ss names them (tmr_name):
// none, retransmission (or loss probe, or RACK reordering), keepalive,
// timewait, zero-window probe.
var timerNames = [...]string{"off", "on", "keepalive", "timewait", "persist"}

// TimerName names the timer running on the socket (idiag_timer) as ss's
// "timer:(…)" does: "off", "on" (retransmission), "keepalive", "timewait",
// "persist" (zero-window probe), "unknown" for a kind not known here. The
// timer fires in Expires milliseconds; Retrans counts its firings so far
// (retransmissions, or unanswered keepalive or zero-window probes).
func (s *Socket) TimerName() string {
	if int(s.Timer) < len(timerNames) {
		return timerNames[s.Timer]
	}
	return "unknown"
}

// IsTimeWait reports whether the socket is a timewait socket: in TIME_WAIT,
// or in the FIN_WAIT2 substate the kernel gives a closed socket that waits
// for the peer's FIN, which dumps as fin_wait2 with the TIME_WAIT timer.
func (s *Socket) IsTimeWait() bool {
	return s.Protocol == inet.TCP && (s.State == TimeWait || s.State == FinWait2 && s.Timer == timerTimeWait)
}

// ResetsPeer reports whether destroying the socket sends the peer a reset
// (tcp_abort sends one when tcp_need_reset holds): TCP in a synchronized
// state, but not a timewait socket or a request socket (SYN_RECV), which
// are dropped silently. A TIME_WAIT, LAST_ACK or CLOSING socket just goes; a
// UDP peer is not told. A LISTEN socket resets the connections it has not
// handed to its application yet, which ResetsPeer does not count.
func (s *Socket) ResetsPeer() bool {
	if s.Protocol != inet.TCP || s.IsTimeWait() {
		return false
	}
	switch s.State {
	case Established, CloseWait, FinWait1, FinWait2:
		return true
	}
	return false
}
