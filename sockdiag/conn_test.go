package sockdiag_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

// sockets makes n IPv4 TCP sockets with peer 192.0.2.2 in the given state.
func sockets(n int, state sockdiag.State, firstCookie sockdiag.Cookie) []sockdiag.Socket {
	out := make([]sockdiag.Socket, n)
	for i := range out {
		out[i] = sockdiag.Socket{
			Protocol: inet.TCP, Family: inet.IPv4, State: state,
			ID: sockdiag.SockID{
				Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
				Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(40000+i)),
				Cookie: firstCookie + sockdiag.Cookie(i),
			},
		}
	}
	return out
}

func TestDumpSpansDatagrams(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(7, sockdiag.Established, 100), DumpBatch: 3}
	c := k.Conn()
	var got []sockdiag.Socket
	for s, err := range c.Dump(t.Context(), sockdiag.Request{Family: inet.IPv4, Protocol: inet.TCP, States: sockdiag.AllStates}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if len(got) != 7 {
		t.Fatalf("dump returned %d sockets, want 7", len(got))
	}
	for i, s := range got {
		if s != k.Sockets[i] {
			t.Fatalf("socket %d: got %+v, want %+v", i, s, k.Sockets[i])
		}
	}
}

func TestDumpStopsEarlyAndConnStaysUsable(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(6, sockdiag.Established, 1), DumpBatch: 2}
	c := k.Conn()
	req := sockdiag.Request{Family: inet.IPv4, Protocol: inet.TCP, States: sockdiag.AllStates}
	for _, err := range c.Dump(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	n := 0
	for _, err := range c.Dump(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("second dump returned %d sockets, want 6: the first one's rest leaked into it", n)
	}
}

// kernelSays answers the first request that is not a probe with msgs
// (given the request's sequence) and every later read with nothing; probes
// get the answers of a kernel that can do everything.
func kernelSays(msgs func(seq uint32) []netlink.Message) *sockdiag.Conn {
	said := false
	return sockdiag.NewConn(sockdiagtest.NewWire(func(reqs []netlink.Message) [][]netlink.Message {
		var r sockdiag.Request
		if err := r.UnmarshalBinary(reqs[0].Data); err == nil && sockdiagtest.IsProbe(r) {
			return [][]netlink.Message{{probeAnswer(reqs[0])}}
		}
		if said {
			return nil
		}
		said = true
		return [][]netlink.Message{msgs(reqs[0].Header.Sequence)}
	}), nil, sockdiag.Release{})
}

// probeAnswer is what a kernel that has every diag module and SOCK_DESTROY
// answers a probe: the end of an empty dump, or ENOENT for a destroy.
func probeAnswer(req netlink.Message) netlink.Message {
	if req.Header.Type == sockDestroy {
		errno := -int32(unix.ENOENT)
		hdr, _ := netlink.Message{Header: req.Header}.MarshalBinary()
		return netlink.Message{Header: netlink.Header{Type: netlink.Error, Sequence: req.Header.Sequence},
			Data: append(binary.NativeEndian.AppendUint32(nil, uint32(errno)), hdr[:16]...)}
	}
	return done(req.Header.Sequence)
}

func diagMsg(seq uint32, data []byte) netlink.Message {
	return netlink.Message{Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Multi, Sequence: seq}, Data: data}
}

func done(seq uint32) netlink.Message {
	return netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: seq}, Data: make([]byte, 4)}
}

func TestDumpRefusesMalformedAnswers(t *testing.T) {
	good, _ := sockets(1, sockdiag.Established, 1)[0].MarshalBinary()
	tests := []struct {
		name string
		msgs func(seq uint32) []netlink.Message
		want string
	}{
		{"short message", func(seq uint32) []netlink.Message {
			return []netlink.Message{diagMsg(seq, good[:40]), done(seq)}
		}, "inet_diag_msg of 40 bytes"},
		{"unknown type", func(seq uint32) []netlink.Message {
			m := diagMsg(seq, good)
			m.Header.Type = 99
			return []netlink.Message{m, done(seq)}
		}, "unexpected netlink message type 99"},
		{"unknown family", func(seq uint32) []netlink.Message {
			bad := append([]byte{7}, good[1:]...)
			return []netlink.Message{diagMsg(seq, bad), done(seq)}
		}, "address family 7"},
		{"error instead of a dump", func(seq uint32) []netlink.Message {
			errno := -int32(unix.EINVAL)
			return []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: seq},
				Data: binary.NativeEndian.AppendUint32(make([]byte, 0, 20), uint32(errno))}}
		}, "invalid argument"},
	}
	for _, tt := range tests {
		c := kernelSays(tt.msgs)
		var err error
		n := 0
		for _, e := range c.Dump(t.Context(), sockdiag.Request{Family: inet.IPv4, Protocol: inet.TCP, States: sockdiag.AllStates}) {
			if e != nil {
				err = e
				break
			}
			n++
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %d sockets, error %v; want an error with %q", tt.name, n, err, tt.want)
		}
		var oe *sockdiag.OpError
		if !errors.As(err, &oe) || oe.Op != "dump" {
			t.Errorf("%s: error %T is not a dump OpError", tt.name, err)
		}
	}
}

// The message types, as the kernel numbers them (x/sys/unix has them only
// on Linux).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	sockDestroy      = 21 // SOCK_DESTROY
)
