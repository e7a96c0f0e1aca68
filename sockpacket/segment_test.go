package sockpacket

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestSegmentRoundTrip(t *testing.T) {
	for _, s := range []Segment{
		{Src: netip.MustParseAddrPort("198.51.100.2:40000"), Dst: netip.MustParseAddrPort("198.51.100.1:8080"), Seq: 1, Ack: 0xfffffffe, Flags: SYN},
		{Src: netip.MustParseAddrPort("[::ffff:192.0.2.1]:1"), Dst: netip.MustParseAddrPort("192.0.2.2:80"), Seq: 7, Flags: RST},
		{Src: netip.MustParseAddrPort("[2001:db8::1:2]:5000"), Dst: netip.MustParseAddrPort("[2001:db8::2:2]:80"), Seq: 9, Ack: 10, Flags: ACK | PSH, Len: 1},
		{Src: netip.MustParseAddrPort("192.0.2.1:5000"), Dst: netip.MustParseAddrPort("192.0.2.2:80"), Seq: 9, Ack: 10, Flags: ACK, Len: 3},
	} {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Segment
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := s
		want.Src = netip.AddrPortFrom(s.Src.Addr().Unmap(), s.Src.Port())
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		// The checksums as a decoder checks them.
		first := layers.LayerTypeIPv4
		if want.Src.Addr().Is6() {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(b, first, gopacket.Default)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("%s: no TCP layer", s)
		}
		if err := tcp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		if err, res := tcp.VerifyChecksum(); err != nil || !res.Valid {
			t.Errorf("%s: TCP checksum %v %+v", s, err, res)
		}
		if v4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			sum := v4.Checksum
			v4.Checksum = 0
			buf := gopacket.NewSerializeBuffer()
			if err := v4.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil || v4.Checksum != sum {
				t.Errorf("%s: IPv4 checksum %#x, want %#x (%v)", s, sum, v4.Checksum, err)
			}
		}
	}
}

func TestSegmentMixedFamilies(t *testing.T) {
	s := Segment{Src: netip.MustParseAddrPort("192.0.2.1:1"), Dst: netip.MustParseAddrPort("[2001:db8::1]:2")}
	if _, err := s.MarshalBinary(); err == nil {
		t.Fatal("no error for a segment from IPv4 to IPv6")
	}
}

func TestSegmentNotTCP(t *testing.T) {
	s := Segment{Src: netip.MustParseAddrPort("192.0.2.1:1"), Dst: netip.MustParseAddrPort("192.0.2.2:2")}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	udp := append([]byte(nil), b...)
	udp[9] = 17
	for _, p := range [][]byte{nil, {0x50}, udp, b[:30]} {
		var got Segment
		if err := got.UnmarshalBinary(p); err == nil {
			t.Errorf("% x: no error", p)
		}
	}
}

func FuzzSegmentUnmarshal(f *testing.F) {
	s := Segment{Src: netip.MustParseAddrPort("[2001:db8::1]:1"), Dst: netip.MustParseAddrPort("[2001:db8::2]:2"), Flags: ACK}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Segment
		_ = s.UnmarshalBinary(b)
	})
}
