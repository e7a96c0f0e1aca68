package sockpacket

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// A Segment is a TCP segment as the engine sends or reads it: its
// addresses, ports, sequence and acknowledgement numbers, flags, and how
// many bytes of data it carries (zeros when sent); no options.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    Flags
	Len      uint16
}

// Flags are a segment's TCP flags.
type Flags uint8

// The flags the engine sends or reads.
const (
	FIN Flags = 1 << 0
	SYN Flags = 1 << 1
	RST Flags = 1 << 2
	PSH Flags = 1 << 3
	ACK Flags = 1 << 4
)

func (s Segment) String() string {
	if s.Len > 0 {
		return fmt.Sprintf("%s → %s %s seq %d ack %d len %d", s.Src, s.Dst, s.Flags, s.Seq, s.Ack, s.Len)
	}
	return fmt.Sprintf("%s → %s %s seq %d ack %d", s.Src, s.Dst, s.Flags, s.Seq, s.Ack)
}

func (f Flags) String() string {
	out := ""
	for _, n := range []struct {
		f    Flags
		name string
	}{{SYN, "S"}, {FIN, "F"}, {RST, "R"}, {PSH, "P"}, {ACK, "."}} {
		if f&n.f != 0 {
			out += n.name
		}
	}
	return "[" + out + "]"
}

// window is the receive window a forged segment announces.
const window = 1024

// MarshalBinary returns the segment as an IP packet (IPv4 or IPv6, as its
// addresses are; IPv4-mapped addresses are IPv4), with its header and TCP
// checksums computed. Both addresses must be of one family.
func (s *Segment) MarshalBinary() ([]byte, error) {
	src, dst := s.Src.Addr().Unmap(), s.Dst.Addr().Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("segment %s: the two ends are not of one address family", s)
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()),
		Seq: s.Seq, Ack: s.Ack, Window: window,
		FIN: s.Flags&FIN != 0, SYN: s.Flags&SYN != 0, RST: s.Flags&RST != 0, PSH: s.Flags&PSH != 0, ACK: s.Flags&ACK != 0,
	}
	var ip gopacket.SerializableLayer
	if src.Is4() {
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip = v4
		if err := tcp.SetNetworkLayerForChecksum(v4); err != nil {
			return nil, err
		}
	} else {
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip = v6
		if err := tcp.SetNetworkLayerForChecksum(v6); err != nil {
			return nil, err
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(make([]byte, s.Len))); err != nil {
		return nil, fmt.Errorf("segment %s: %w", s, err)
	}
	return buf.Bytes(), nil
}

// errNotTCP is the error of a packet that carries no TCP header where an
// IPv4 or IPv6 header says so (an IPv6 extension header, a fragment).
var errNotTCP = errors.New("not a TCP segment")

// UnmarshalBinary reads a segment from an IP packet that starts at its IP
// header, as an AF_PACKET socket of type SOCK_DGRAM reads it; the packet
// may end after the TCP header (a capture's snap length): Len is what the
// IP header says the data is.
func (s *Segment) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return errNotTCP
	}
	var src, dst netip.Addr
	var payload []byte
	var ipLen int // the IP payload's length, as the header says
	switch b[0] >> 4 {
	case 4:
		var ip layers.IPv4
		if err := ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		if ip.Protocol != layers.IPProtocolTCP || ip.FragOffset != 0 || ip.Flags&layers.IPv4MoreFragments != 0 {
			return errNotTCP
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		payload, ipLen = ip.Payload, int(ip.Length)-int(ip.IHL)*4
	case 6:
		var ip layers.IPv6
		if err := ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		if ip.NextHeader != layers.IPProtocolTCP {
			return errNotTCP
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		payload, ipLen = ip.Payload, int(ip.Length)
	default:
		return errNotTCP
	}
	var tcp layers.TCP
	if err := tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
		return err
	}
	*s = Segment{
		Src: netip.AddrPortFrom(src, uint16(tcp.SrcPort)), Dst: netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		Seq: tcp.Seq, Ack: tcp.Ack,
	}
	if n := ipLen - int(tcp.DataOffset)*4; n > 0 && n <= 0xffff {
		s.Len = uint16(n)
	}
	for _, f := range []struct {
		set  bool
		flag Flags
	}{{tcp.FIN, FIN}, {tcp.SYN, SYN}, {tcp.RST, RST}, {tcp.PSH, PSH}, {tcp.ACK, ACK}} {
		if f.set {
			s.Flags |= f.flag
		}
	}
	return nil
}
