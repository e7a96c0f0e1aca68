package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
)

// ctnetlink's message types and attributes
// (include/uapi/linux/netfilter/nfnetlink_conntrack.h).
const (
	netlinkNetfilter    = 12     // NETLINK_NETFILTER
	nfnlSubsysCTNetlink = 1      // NFNL_SUBSYS_CTNETLINK
	nfnetlinkV0         = 0      // NFNETLINK_V0
	ipctnlMsgCTGet      = 1      // IPCTNL_MSG_CT_GET
	ipctnlMsgCTDelete   = 2      // IPCTNL_MSG_CT_DELETE
	nlaTypeMask         = 0x3fff // NLA_TYPE_MASK

	ctaTupleOrig  = 1  // CTA_TUPLE_ORIG
	ctaTupleReply = 2  // CTA_TUPLE_REPLY
	ctaStatus     = 3  // CTA_STATUS
	ctaProtoinfo  = 4  // CTA_PROTOINFO
	ctaTimeout    = 7  // CTA_TIMEOUT
	ctaMark       = 8  // CTA_MARK
	ctaID         = 12 // CTA_ID
	ctaZone       = 18 // CTA_ZONE
	ctaMarkMask   = 21 // CTA_MARK_MASK
	ctaStatusMask = 26 // CTA_STATUS_MASK

	ctaTupleIP    = 1 // CTA_TUPLE_IP
	ctaTupleProto = 2 // CTA_TUPLE_PROTO
	ctaTupleZone  = 3 // CTA_TUPLE_ZONE: a zone of this direction alone

	ctaIPv4Src = 1 // CTA_IP_V4_SRC
	ctaIPv4Dst = 2 // CTA_IP_V4_DST
	ctaIPv6Src = 3 // CTA_IP_V6_SRC
	ctaIPv6Dst = 4 // CTA_IP_V6_DST

	ctaProtoNum     = 1 // CTA_PROTO_NUM
	ctaProtoSrcPort = 2 // CTA_PROTO_SRC_PORT
	ctaProtoDstPort = 3 // CTA_PROTO_DST_PORT

	ctaProtoinfoTCP      = 1 // CTA_PROTOINFO_TCP
	ctaProtoinfoTCPState = 1 // CTA_PROTOINFO_TCP_STATE
)

// nfgenmsgLen is the size of struct nfgenmsg, which starts every message.
const nfgenmsgLen = 4

// nfgenmsg is struct nfgenmsg: the family, the version, and res_id
// (big-endian, 0 here).
func nfgenmsg(family inet.Family) []byte { return []byte{byte(family), nfnetlinkV0, 0, 0} }

// headerType is a ctnetlink message type as nlmsg_type carries it.
func headerType(msg int) netlink.HeaderType {
	return netlink.HeaderType(nfnlSubsysCTNetlink<<8 | msg)
}

// errNotFlow is an answer that is no conntrack entry of an address family
// and protocol tcpreap knows (an ICMP or SCTP entry, say): skipped.
var errNotFlow = errors.New("not a TCP or UDP flow")

// attrs walks the netlink attributes of b: each one's type (without the
// nested and byte-order bits) and payload, until fn returns an error or b
// ends. It allocates nothing: a dump decodes a hundred thousand entries a
// second with it (mdlayher/netlink's AttributeDecoder allocated for each
// nested one, a third of a dump's time).
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("an attribute of %d bytes, shorter than its header", len(b))
		}
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return fmt.Errorf("an attribute claims %d bytes of %d", l, len(b))
		}
		if err := fn(binary.NativeEndian.Uint16(b[2:])&nlaTypeMask, b[4:l]); err != nil {
			return err
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return nil
}

// be16, be32 and u8 read an attribute's big-endian value, which must have
// its size.
func be16(v []byte) (uint16, error) {
	if len(v) != 2 {
		return 0, fmt.Errorf("a 16-bit attribute of %d bytes", len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

func be32(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("a 32-bit attribute of %d bytes", len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func u8(v []byte) (uint8, error) {
	if len(v) != 1 {
		return 0, fmt.Errorf("an 8-bit attribute of %d bytes", len(v))
	}
	return v[0], nil
}

// UnmarshalBinary decodes one IPCTNL_MSG_CT_NEW message of a dump: the
// nfgenmsg and the attributes. An entry of another protocol than TCP or
// UDP decodes to an error.
func (f *Flow) UnmarshalBinary(b []byte) error {
	if len(b) < nfgenmsgLen {
		return fmt.Errorf("conntrack message of %d bytes, shorter than its header", len(b))
	}
	*f = Flow{Family: inet.Family(b[0])}
	if f.Family != inet.IPv4 && f.Family != inet.IPv6 {
		return errNotFlow
	}
	var orig, reply bool
	err := attrs(b[nfgenmsgLen:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleOrig:
			orig = true
			err = f.decodeTuple(v, &f.Orig, zoneOrig)
		case ctaTupleReply:
			reply = true
			err = f.decodeTuple(v, &f.Reply, zoneReply)
		case ctaStatus:
			var s uint32
			s, err = be32(v)
			f.Status = Status(s)
		case ctaTimeout:
			f.Timeout, err = be32(v)
		case ctaMark:
			f.Mark, err = be32(v)
		case ctaID:
			f.ID, err = be32(v)
		case ctaZone:
			f.Zone, err = be16(v)
		case ctaProtoinfo:
			err = f.decodeProtoinfo(v)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("conntrack message: %w", err)
	}
	if !orig || !reply {
		return errors.New("conntrack message without its tuples")
	}
	if f.Protocol != inet.TCP && f.Protocol != inet.UDP {
		return errNotFlow
	}
	return nil
}

// decodeTuple decodes the tuple of direction dir into t; a zone of that
// direction alone is the flow's zone.
func (f *Flow) decodeTuple(b []byte, t *Tuple, dir zoneDir) error {
	var src, dst netip.Addr
	var sport, dport uint16
	err := attrs(b, func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleZone:
			f.Zone, err = be16(v)
			f.zoneDir = dir
		case ctaTupleIP:
			err = attrs(v, func(typ uint16, v []byte) error {
				a, ok := netip.AddrFromSlice(v)
				if !ok {
					return fmt.Errorf("address of %d bytes", len(v))
				}
				switch typ {
				case ctaIPv4Src, ctaIPv6Src:
					src = a
				case ctaIPv4Dst, ctaIPv6Dst:
					dst = a
				}
				return nil
			})
		case ctaTupleProto:
			err = attrs(v, func(typ uint16, v []byte) error {
				var err error
				switch typ {
				case ctaProtoNum:
					var p uint8
					p, err = u8(v)
					f.Protocol = inet.Protocol(p)
				case ctaProtoSrcPort:
					sport, err = be16(v)
				case ctaProtoDstPort:
					dport, err = be16(v)
				}
				return err
			})
		}
		return err
	})
	if err != nil {
		return err
	}
	if !src.IsValid() || !dst.IsValid() || (src.Is4() != (f.Family == inet.IPv4)) || (dst.Is4() != (f.Family == inet.IPv4)) {
		return errors.New("tuple without addresses of its family")
	}
	t.Src, t.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return nil
}

func (f *Flow) decodeProtoinfo(b []byte) error {
	return attrs(b, func(typ uint16, v []byte) error {
		if typ != ctaProtoinfoTCP {
			return nil
		}
		return attrs(v, func(typ uint16, v []byte) error {
			if typ != ctaProtoinfoTCPState {
				return nil
			}
			s, err := u8(v)
			f.State = TCPState(s)
			return err
		})
	})
}

// deleteRequest is the IPCTNL_MSG_CT_DELETE payload for f: its original
// tuple, its zone and its id. Never without the tuple: a delete without one
// is a flush of the whole table (ctnetlink_flush_conntrack). The kernel
// looks the tuple up in the zone of the original direction: CTA_ZONE for a
// zone of both directions, CTA_TUPLE_ZONE in the tuple for one of the
// original alone, and none (zone 0) for one of the reply alone.
func deleteRequest(f Flow) ([]byte, error) { return appendDelete(nil, &f), nil }

// appendDelete appends deleteRequest's payload to b, and appendGet the
// request for the entry of f's original tuple in its zone, whatever its
// id (what is there now, to compare with f). They allocate nothing when b
// has room (mdlayher/netlink's encoder allocated for every nested
// attribute: a tenth of a cut's time).
func appendDelete(b []byte, f *Flow) []byte { return appendTupleRequest(b, f, true) }
func appendGet(b []byte, f *Flow) []byte    { return appendTupleRequest(b, f, false) }

// nlaFNested marks a nested attribute (NLA_F_NESTED), as mdlayher/netlink's
// encoder does.
const nlaFNested = 0x8000

func appendTupleRequest(b []byte, f *Flow, withID bool) []byte {
	b = append(b, byte(f.Family), nfnetlinkV0, 0, 0)
	orig := len(b)
	b = appendAttrHeader(b, ctaTupleOrig|nlaFNested)
	b = appendTuple(b, f.Family, f.Protocol, f.Orig)
	if f.Zone != 0 && f.zoneDir == zoneOrig {
		b = appendBE16(b, ctaTupleZone, f.Zone)
	}
	b = closeAttr(b, orig)
	if f.Zone != 0 && f.zoneDir == zoneBoth {
		b = appendBE16(b, ctaZone, f.Zone)
	}
	if withID && f.ID != 0 {
		b = appendBE32(b, ctaID, f.ID)
	}
	return b
}

// appendTuple appends a tuple's CTA_TUPLE_IP and CTA_TUPLE_PROTO.
func appendTuple(b []byte, family inet.Family, proto inet.Protocol, t Tuple) []byte {
	ip := len(b)
	b = appendAttrHeader(b, ctaTupleIP|nlaFNested)
	src, dst := uint16(ctaIPv4Src), uint16(ctaIPv4Dst)
	if family == inet.IPv6 {
		src, dst = ctaIPv6Src, ctaIPv6Dst
	}
	b = appendAddr(b, src, t.Src.Addr())
	b = appendAddr(b, dst, t.Dst.Addr())
	b = closeAttr(b, ip)
	ports := len(b)
	b = appendAttrHeader(b, ctaTupleProto|nlaFNested)
	b = appendAttr(b, ctaProtoNum, uint8(proto))
	b = appendBE16(b, ctaProtoSrcPort, t.Src.Port())
	b = appendBE16(b, ctaProtoDstPort, t.Dst.Port())
	return closeAttr(b, ports)
}

// appendAttrHeader appends an attribute's header, its length left for
// closeAttr to fill in.
func appendAttrHeader(b []byte, typ uint16) []byte {
	b = binary.NativeEndian.AppendUint16(b, 0)
	return binary.NativeEndian.AppendUint16(b, typ)
}

// closeAttr sets the length of the attribute that starts at start to what
// follows it, and pads it to 4 bytes.
func closeAttr(b []byte, start int) []byte {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendAttr(b []byte, typ uint16, v ...byte) []byte {
	start := len(b)
	b = appendAttrHeader(b, typ)
	b = append(b, v...)
	return closeAttr(b, start)
}

func appendBE16(b []byte, typ uint16, v uint16) []byte {
	return appendAttr(b, typ, byte(v>>8), byte(v))
}

func appendBE32(b []byte, typ uint16, v uint32) []byte {
	return appendAttr(b, typ, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendAddr appends an address attribute: 4 bytes for IPv4, 16 else,
// none for the zero Addr (netip.Addr.AsSlice).
func appendAddr(b []byte, typ uint16, a netip.Addr) []byte {
	start := len(b)
	b = appendAttrHeader(b, typ)
	switch {
	case a.Is4():
		v := a.As4()
		b = append(b, v[:]...)
	case a.IsValid():
		v := a.As16()
		b = append(b, v[:]...)
	}
	return closeAttr(b, start)
}

// dumpRequest is the IPCTNL_MSG_CT_GET dump payload for family (0: both)
// with the kernel-side part of filter k (see the package doc for what an
// older kernel ignores).
func dumpRequest(family inet.Family, k kernelFilter) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	if k.mark != nil {
		ae.Uint32(ctaMark, k.mark.Value)
		ae.Uint32(ctaMarkMask, k.mark.Mask)
	}
	if k.statusMask != 0 {
		ae.Uint32(ctaStatus, uint32(k.status))
		ae.Uint32(ctaStatusMask, uint32(k.statusMask))
	}
	if k.zone != nil {
		ae.Uint16(ctaZone, *k.zone)
	}
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(nfgenmsg(family), attrs...), nil
}
