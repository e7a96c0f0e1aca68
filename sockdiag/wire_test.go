package sockdiag

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// unhex reads a byte fixture written as spaced hex, little endian where the
// kernel uses native byte order (these tests assume a little-endian host).
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestMarshal(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{{
		name: "ipv4 tcp close_wait dump with local port prefilter",
		req: Request{Family: IPv4, Protocol: TCP, States: 1 << CloseWait,
			ID: SockID{Local: netip.AddrPortFrom(netip.Addr{}, 5432)}},
		want: "02 06 00 00  00 01 00 00" + // family, protocol, ext, pad, states 1<<8
			"15 38 00 00" + // sport 5432 big endian, dport 0
			strings.Repeat("00", 32) + // src, dst
			"00 00 00 00  00 00 00 00 00 00 00 00", // if, cookie
	}, {
		name: "syn_recv asks for request sockets too",
		req:  Request{Family: IPv6, Protocol: UDP, States: 1 << SynRecv},
		want: "0a 11 00 00  08 10 00 00" + strings.Repeat("00", 48),
	}, {
		name: "ipv6 destroy with cookie and interface",
		req: Request{Family: IPv6, Protocol: TCP, ID: SockID{
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
		req: Request{Family: IPv4, Protocol: TCP, States: AllStates, ID: SockID{
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
		req:  Request{Family: IPv4, Protocol: TCP, Bytecode: []byte{1, 4, 8, 0}},
		want: "02 06 00 00  00 00 00 00" + strings.Repeat("00", 48) +
			"08 00 01 00  01 04 08 00", // nla_len 8, INET_DIAG_REQ_BYTECODE
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

func TestSocketUnmarshal(t *testing.T) {
	b := unhex(t, "0a 08 01 02"+ // AF_INET6, CLOSE_WAIT, timer 1, retrans 2
		"15 38 9c 41"+ // sport 5432, dport 40001
		"00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01"+
		"00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 02"+
		"00 00 00 00  2a 00 00 00 01 00 00 00"+ // if 0, cookie 1<<32|42
		"10 27 00 00  05 00 00 00  06 00 00 00  e8 03 00 00  39 30 00 00"+ // expires, rq, wq, uid, inode
		"08 00 05 00 01 02 03 04") // an attribute, ignored
	var s Socket
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := Socket{
		Family: IPv6, State: CloseWait, Timer: 1, Retrans: 2,
		ID: SockID{
			Local:  netip.MustParseAddrPort("[::ffff:192.0.2.1]:5432"),
			Remote: netip.MustParseAddrPort("[::ffff:192.0.2.2]:40001"),
			Cookie: 1<<32 | 42,
		},
		Expires: 10000, RecvQ: 5, SendQ: 6, UID: 1000, Inode: 12345,
	}
	if s != want {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	out, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, b[:socketMsgLen]) {
		t.Fatalf("MarshalBinary:\n got %x\nwant %x", out, b[:socketMsgLen])
	}
}

func TestSocketUnmarshalErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          make([]byte, socketMsgLen-1),
		"unknown family": append([]byte{1}, make([]byte, socketMsgLen-1)...),
	} {
		var s Socket
		if err := s.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRequestSocketRequestState(t *testing.T) {
	// The kernel reports request sockets as TCP_NEW_SYN_RECV on some paths.
	b := make([]byte, socketMsgLen)
	b[0], b[1] = uint8(IPv4), uint8(newSynRecv)
	var s Socket
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if s.State != SynRecv || s.State.String() != "syn_recv" {
		t.Fatalf("state %d %q, want syn_recv", s.State, s.State)
	}
}
