package flows

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
)

// zoneFlowMessage is a dump answer for a UDP flow 198.51.100.2:1 → 192.0.2.2:53 whose zone
// holds in one direction alone: CTA_TUPLE_ZONE in that direction's tuple, no CTA_ZONE (as
// the kernel writes an entry of nft's "ct original zone set 9").
func zoneFlowMessage(t *testing.T, dir uint16, zone uint16) []byte {
	t.Helper()
	tuple := func(nae *netlink.AttributeEncoder, src, dst netip.AddrPort, zoned bool) {
		encodeTuple(nae, inet.IPv4, inet.UDP, Tuple{Src: src, Dst: dst})
		if zoned {
			nae.Uint16(ctaTupleZone, zone)
		}
	}
	c, s := netip.MustParseAddrPort("198.51.100.2:1"), netip.MustParseAddrPort("192.0.2.2:53")
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Nested(ctaTupleOrig, func(nae *netlink.AttributeEncoder) error { tuple(nae, c, s, dir == ctaTupleOrig); return nil })
	ae.Nested(ctaTupleReply, func(nae *netlink.AttributeEncoder) error { tuple(nae, s, c, dir == ctaTupleReply); return nil })
	ae.Uint32(ctaID, 77)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append(nfgenmsg(inet.IPv4), b...)
}

func encodeTuple(ae *netlink.AttributeEncoder, family inet.Family, proto inet.Protocol, t Tuple) {
	ae.Nested(ctaTupleIP, func(nae *netlink.AttributeEncoder) error {
		src, dst := uint16(ctaIPv4Src), uint16(ctaIPv4Dst)
		if family == inet.IPv6 {
			src, dst = ctaIPv6Src, ctaIPv6Dst
		}
		nae.Bytes(src, t.Src.Addr().AsSlice())
		nae.Bytes(dst, t.Dst.Addr().AsSlice())
		return nil
	})
	ae.Nested(ctaTupleProto, func(nae *netlink.AttributeEncoder) error {
		nae.Uint8(ctaProtoNum, uint8(proto))
		nae.Uint16(ctaProtoSrcPort, t.Src.Port())
		nae.Uint16(ctaProtoDstPort, t.Dst.Port())
		return nil
	})
}

// deleteZones decodes a delete request: the zone in its original tuple, and CTA_ZONE.
func deleteZones(t *testing.T, req []byte) (tupleZone, zone int) {
	t.Helper()
	tupleZone, zone = -1, -1
	ad, err := netlink.NewAttributeDecoder(req[nfgenmsgLen:])
	if err != nil {
		t.Fatal(err)
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() & nlaTypeMask {
		case ctaTupleOrig:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type()&nlaTypeMask == ctaTupleZone {
						tupleZone = int(nad.Uint16())
					}
				}
				return nil
			})
		case ctaZone:
			zone = int(ad.Uint16())
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return tupleZone, zone
}

// TestFlowZoneOneDirection: a zone of one direction alone is the flow's zone (--zone
// selects it), and a delete looks the original tuple up where the kernel keeps it: in the
// zone inside the tuple for the original direction, in zone 0 for the reply direction.
// Without this the delete of such an entry answered ENOENT and was reported gone while
// the entry stayed.
func TestFlowZoneOneDirection(t *testing.T) {
	for _, c := range []struct {
		name            string
		dir             uint16
		tupleZone, zone int
	}{
		{"original", ctaTupleOrig, 9, -1},
		{"reply", ctaTupleReply, -1, -1},
	} {
		var fl Flow
		if err := fl.UnmarshalBinary(zoneFlowMessage(t, c.dir, 9)); err != nil {
			t.Fatal(err)
		}
		zone := uint16(9)
		if fl.Zone != 9 || !(&Filter{Protocols: []inet.Protocol{inet.UDP}, Zone: &zone}).Match(&fl) {
			t.Errorf("%s: zone %d, want 9, selected by --zone 9", c.name, fl.Zone)
		}
		req, err := deleteRequest(fl)
		if err != nil {
			t.Fatal(err)
		}
		if tz, z := deleteZones(t, req); tz != c.tupleZone || z != c.zone {
			t.Errorf("%s: delete with tuple zone %d and CTA_ZONE %d, want %d and %d (-1: none)", c.name, tz, z, c.tupleZone, c.zone)
		}
	}
	both := Flow{Family: inet.IPv4, Protocol: inet.UDP, Zone: 9, ID: 1,
		Orig: Tuple{Src: netip.MustParseAddrPort("198.51.100.2:1"), Dst: netip.MustParseAddrPort("192.0.2.2:53")}}
	req, err := deleteRequest(both)
	if err != nil {
		t.Fatal(err)
	}
	if tz, z := deleteZones(t, req); tz != -1 || z != 9 {
		t.Errorf("both directions: delete with tuple zone %d and CTA_ZONE %d, want none and 9", tz, z)
	}
}
