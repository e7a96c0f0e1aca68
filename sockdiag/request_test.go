package sockdiag

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

func TestRequestMarshal(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{{
		name: "ipv4 tcp close_wait dump with local port prefilter",
		req: Request{Family: inet.IPv4, Protocol: inet.TCP, States: 1 << CloseWait,
			ID: SockID{Local: netip.AddrPortFrom(netip.Addr{}, 5432)}},
		want: "02 06 00 00  00 01 00 00" + // family, protocol, ext, pad, states 1<<8
			"15 38 00 00" + // sport 5432 big endian, dport 0
			strings.Repeat("00", 32) + // src, dst
			"00 00 00 00  00 00 00 00 00 00 00 00", // if, cookie
	}, {
		name: "syn_recv asks for request sockets too",
		req:  Request{Family: inet.IPv6, Protocol: inet.UDP, States: 1 << SynRecv},
		want: "0a 11 00 00  08 10 00 00" + strings.Repeat("00", 48),
	}, {
		name: "ipv6 destroy with cookie and interface",
		req: Request{Family: inet.IPv6, Protocol: inet.TCP, ID: SockID{
			Local:     netip.MustParseAddrPort("[2001:db8::1]:443"),
			Remote:    netip.MustParseAddrPort("[::ffff:192.0.2.2]:40000"),
			Interface: 3,
			Cookie:    0x0000000100000002,
		}},
		want: "0a 06 00 00  00 00 00 00" +
			"01 bb 9c 40" +
			"20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01" +
			"00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 02" +
			"03 00 00 00  02 00 00 00 01 00 00 00",
	}, {
		name: "ipv4 addresses fill the first four bytes",
		req: Request{Family: inet.IPv4, Protocol: inet.TCP, States: AllStates, ID: SockID{
			Local:  netip.MustParseAddrPort("192.0.2.1:80"),
			Remote: netip.MustParseAddrPort("198.51.100.7:1"),
			Cookie: 7,
		}},
		want: "02 06 00 00  fe 1f 00 00" + // all states, and request sockets for syn_recv
			"00 50 00 01" +
			"c0 00 02 01" + strings.Repeat("00", 12) +
			"c6 33 64 07" + strings.Repeat("00", 12) +
			"00 00 00 00  07 00 00 00 00 00 00 00",
	}, {
		name: "with a filter program",
		req:  Request{Family: inet.IPv4, Protocol: inet.TCP, Bytecode: []byte{1, 4, 8, 0}},
		want: "02 06 00 00  00 00 00 00" + strings.Repeat("00", 48) +
			"08 00 01 00  01 04 08 00", // nla_len 8, INET_DIAG_REQ_BYTECODE
	}, {
		name: "a dump of MPTCP sockets: protocol 0, IPPROTO_MPTCP in an attribute",
		req:  Request{Family: inet.IPv6, MPTCP: true, States: 1 << Established},
		want: "0a 00 00 00  02 00 00 00" + strings.Repeat("00", 48) +
			"08 00 03 00  06 01 00 00", // nla_len 8, INET_DIAG_REQ_PROTOCOL, 262
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("MarshalBinary:\n got %x\nwant %x", got, want)
			}
			var back Request
			if err := back.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			again, _ := back.MarshalBinary()
			if !bytes.Equal(again, got) {
				t.Fatalf("round trip changed the request:\n got %x\nwant %x", again, got)
			}
		})
	}
}

func TestRequestSocketRequestState(t *testing.T) {
	// The kernel reports request sockets as TCP_NEW_SYN_RECV on some paths.
	b := make([]byte, socketMsgLen)
	b[0], b[1] = uint8(inet.IPv4), uint8(newSynRecv)
	var s Socket
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if s.State != SynRecv || s.State.String() != "syn_recv" {
		t.Fatalf("state %d %q, want syn_recv", s.State, s.State)
	}
}

func FuzzRequestUnmarshal(f *testing.F) {
	f.Add(make([]byte, requestLen))
	f.Add(append(append([]byte{2, 6, 0, 0}, make([]byte, requestLen-4)...), 8, 0, 1, 0, 1, 4, 8, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		if _, err := r.MarshalBinary(); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}
