package main

import (
	"net/netip"
	"testing"
)

func TestParseEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want netip.AddrPort
	}{
		{"127.0.0.1:5000", netip.MustParseAddrPort("127.0.0.1:5000")},
		{"0.0.0.0:*", netip.MustParseAddrPort("0.0.0.0:0")},
		{"[::1]:80", netip.MustParseAddrPort("[::1]:80")},
		{"[::ffff:127.0.0.1]:22", netip.MustParseAddrPort("[::ffff:127.0.0.1]:22")},
		{"*:*", netip.MustParseAddrPort("[::]:0")},
	} {
		got, err := parseEnd(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseEnd(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"127.0.0.1", "127.0.0.1:http", "localhost:80", "127.0.0.1:65536"} {
		if got, err := parseEnd(in); err == nil {
			t.Errorf("parseEnd(%q) = %v, want an error", in, got)
		}
	}
}

func TestDestroying(t *testing.T) {
	s := shape{workers: 2, established: 4, closeWait: 6, timeWait: 8}
	all := s.sockets()
	byState := func(set sockSet) map[string]int {
		n := map[string]int{}
		for k := range set {
			n[k.state]++
		}
		return n
	}
	for _, tt := range []struct {
		name    string
		selects func(sock) bool
		want    map[string]int
	}{
		// A destroyed CLOSE_WAIT socket resets its FIN_WAIT2 peer.
		{"close_wait", func(k sock) bool { return k.state == "CLOSE-WAIT" },
			map[string]int{"LISTEN": 6, "ESTAB": 8, "TIME-WAIT": 8}},
		// A TIME_WAIT socket sends nothing.
		{"time_wait", func(k sock) bool { return k.state == "TIME-WAIT" },
			map[string]int{"LISTEN": 6, "ESTAB": 8, "CLOSE-WAIT": 6, "FIN-WAIT-2": 6}},
		// The server ends of the peer's connections, and their client ends.
		{"peer", fromPeer,
			map[string]int{"LISTEN": 6, "ESTAB": 6, "CLOSE-WAIT": 5, "FIN-WAIT-2": 5, "TIME-WAIT": 8}},
	} {
		got := byState(all.destroying(tt.selects))
		if len(got) != len(tt.want) {
			t.Errorf("%s: left %v, want %v", tt.name, got, tt.want)
			continue
		}
		for st, n := range tt.want {
			if got[st] != n {
				t.Errorf("%s: left %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

func TestDiff(t *testing.T) {
	a := sock{"ESTAB", netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")}
	b := sock{"CLOSE-WAIT", netip.MustParseAddrPort("127.0.0.1:3"), netip.MustParseAddrPort("127.0.0.1:4")}
	c := sock{"CLOSE-WAIT", netip.MustParseAddrPort("127.0.0.1:5"), netip.MustParseAddrPort("127.0.0.1:6")}
	if d := diff(sockSet{a: {}, b: {}}, sockSet{b: {}, a: {}}); !d.none() || d.String() != "as expected" {
		t.Errorf("the same sets differ: %s", d)
	}
	d := diff(sockSet{a: {}, b: {}}, sockSet{b: {}, c: {}})
	if want := "1 CLOSE-WAIT too many, 1 ESTAB missing"; d.String() != want {
		t.Errorf("diff = %q, want %q", d, want)
	}
}
