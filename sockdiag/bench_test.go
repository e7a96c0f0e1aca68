package sockdiag

import (
	"net/netip"
	"testing"
)

// The hot paths of a reap of 100,000 sockets, with their allocations:
// go test -run NONE -bench . ./sockdiag

func BenchmarkSocketUnmarshal(b *testing.B) {
	s := Socket{Protocol: TCP, Family: IPv6, State: CloseWait, ID: SockID{
		Local: netip.MustParseAddrPort("[2001:db8::1]:5432"), Remote: netip.MustParseAddrPort("[2001:db8::2]:40000"), Cookie: 1 << 40,
	}, Inode: 77}
	msg, err := s.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var got Socket
		if err := got.UnmarshalBinary(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilterMatch(b *testing.B) {
	f := &Filter{States: 1 << CloseWait, Peers: []Endpoint{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}, LocalPorts: []PortRange{{5432, 5432}}}
	s := Socket{Protocol: TCP, Family: IPv6, State: CloseWait, ID: SockID{
		Local: netip.MustParseAddrPort("[::ffff:192.0.2.1]:5432"), Remote: netip.MustParseAddrPort("[::ffff:192.0.2.2]:40000"),
	}}
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(&s) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkRequestMarshal(b *testing.B) {
	r := Request{Family: IPv4, Protocol: TCP, ID: SockID{
		Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.MustParseAddrPort("192.0.2.2:40000"), Cookie: 1 << 40,
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
