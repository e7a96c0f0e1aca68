package sockdiag

import (
	"net/netip"
	"testing"
)

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

func FuzzParseStates(f *testing.F) {
	for _, s := range []string{"established", "close-wait,TIME_WAIT", "all", "big,listen", "", ",", "fin-wait-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		sel, named, err := ParseStates(word)
		if err == nil && (sel&^AllStates != 0 || named&^sel != 0) {
			t.Fatalf("%q: selected %#x, named %#x", word, sel, named)
		}
	})
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"22", "1000-2000", "http,5432", "9-2", "70000", "-", "1-", "a-b"} {
		f.Add(s)
	}
	lookup := func(string) (uint16, error) { return 80, nil }
	f.Fuzz(func(t *testing.T, word string) {
		rs, err := ParsePorts(word, lookup)
		for _, r := range rs {
			if err == nil && r.Lo > r.Hi {
				t.Fatalf("%q: backwards range %v", word, r)
			}
		}
	})
}

func FuzzParsePeer(f *testing.F) {
	for _, s := range []string{"192.0.2.2", "192.0.2.0/24:80", "[2001:db8::2]:443", "2001:db8::2", "db1:http", "[", "]:", "999.1.1.1"} {
		f.Add(s)
	}
	services := func(string) (uint16, error) { return 80, nil }
	resolve := func(string) ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil }
	f.Fuzz(func(t *testing.T, word string) {
		eps, err := ParsePeer(word, services, resolve)
		if err == nil && len(eps) == 0 {
			t.Fatalf("%q: no endpoints and no error", word)
		}
		for _, e := range eps {
			if !e.Prefix.IsValid() {
				t.Fatalf("%q: invalid prefix in %+v", word, e)
			}
		}
	})
}
