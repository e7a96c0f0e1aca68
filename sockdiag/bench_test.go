package sockdiag

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

// The hot paths of a reap of 100,000 sockets, with their allocations:
// go test -run NONE -bench . ./sockdiag

func BenchmarkSocketUnmarshal(b *testing.B) {
	s := Socket{Protocol: inet.TCP, Family: inet.IPv6, State: CloseWait, ID: SockID{
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
	f := &Filter{States: 1 << CloseWait, Peers: []inet.Endpoint{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}, LocalPorts: []inet.PortRange{{Lo: 5432, Hi: 5432}}}
	s := Socket{Protocol: inet.TCP, Family: inet.IPv6, State: CloseWait, ID: SockID{
		Local: netip.MustParseAddrPort("[::ffff:192.0.2.1]:5432"), Remote: netip.MustParseAddrPort("[::ffff:192.0.2.2]:40000"),
	}}
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(&s) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkBatchEncode encodes a full batch of destroys, as sendBatch does,
// into a reused buffer: per request.
func BenchmarkBatchEncode(b *testing.B) {
	s := Socket{Protocol: inet.TCP, Family: inet.IPv4, ID: SockID{
		Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.MustParseAddrPort("192.0.2.2:40000"), Cookie: 1 << 40,
	}}
	bt := &batch{}
	b.ReportAllocs()
	for b.Loop() {
		bt.reset(1)
		for range batchSize {
			if err := bt.add(sockDestroy, 0, &Request{Family: s.Family, Protocol: s.Protocol, ID: s.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/request")
}

// BenchmarkDumpDecode reads a datagram of 300 sockets as a dump does.
func BenchmarkDumpDecode(b *testing.B) {
	s := Socket{Protocol: inet.TCP, Family: inet.IPv6, State: CloseWait, ID: SockID{
		Local: netip.MustParseAddrPort("[2001:db8::1]:5432"), Remote: netip.MustParseAddrPort("[2001:db8::2]:40000"), Cookie: 1 << 40,
	}}
	msg, err := s.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	var datagram []byte
	for range 300 {
		m := make([]byte, nlmsgHdrLen+len(msg))
		header{Len: uint32(len(m)), Type: sockDiagByFamily}.put(m)
		copy(m[nlmsgHdrLen:], msg)
		datagram = append(datagram, m...)
	}
	b.ReportAllocs()
	var got Socket
	for b.Loop() {
		for d := datagram; len(d) > 0; {
			_, payload, rest, err := nextMessage(d)
			if err != nil {
				b.Fatal(err)
			}
			if err := got.UnmarshalBinary(payload); err != nil {
				b.Fatal(err)
			}
			d = rest
		}
	}
}
