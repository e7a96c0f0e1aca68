package sockdiag

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
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
		Family: inet.IPv6, State: CloseWait, Timer: 1, Retrans: 2,
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

func FuzzSocketUnmarshal(f *testing.F) {
	f.Add(make([]byte, socketMsgLen))
	f.Add(append([]byte{10, 8, 0, 0}, make([]byte, socketMsgLen)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Socket
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded socket does not encode: %v", err)
		}
		var again Socket
		if err := again.UnmarshalBinary(out); err != nil || again != s {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
	})
}

func TestTimerName(t *testing.T) {
	for timer, want := range []string{"off", "on", "keepalive", "timewait", "persist", "unknown", "unknown"} {
		s := Socket{Timer: uint8(timer)}
		if got := s.TimerName(); got != want {
			t.Errorf("timer %d: %q, want %q", timer, got, want)
		}
	}
}
