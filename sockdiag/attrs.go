package sockdiag

import (
	"github.com/mdlayher/netlink"
)

// msgAttrs is what tcpreap reads of the attributes that follow a dumped
// inet_diag_msg. Dumps ask for them only where they serve (they cost a
// struct tcp_info per socket): see explainInvalid.
type msgAttrs struct {
	// ULP is the name of the socket's TCP upper layer protocol (TCP_ULP):
	// "mptcp" for a subflow of an MPTCP socket, "tls" for kernel TLS, ""
	// for none. tcp_diag_put_ulp sends it (Linux 5.4 and later) when the
	// dump asks for INET_DIAG_INFO; older kernels only to a reader with
	// CAP_NET_ADMIN.
	ULP string
	// SubflowFlags are an MPTCP subflow's MPTCP_SUBFLOW_ATTR_FLAGS, which
	// subflow_get_info nests in the ULP's info (Linux 5.7 and later).
	SubflowFlags uint32
	// SubflowToken is an MPTCP subflow's MPTCP_SUBFLOW_ATTR_TOKEN_LOC: the
	// token of the MPTCP connection it is a subflow of, as that
	// connection's own mptcp_info shows it (mptcpi_token).
	SubflowToken uint32
}

// ulpMPTCP is the ULP name of MPTCP's subflows (subflow_ulp_ops).
const ulpMPTCP = "mptcp"

// speaksMPTCP reports whether the socket is a subflow of an MPTCP connection
// whose peer speaks MPTCP: it answered MP_CAPABLE, or joined with MP_JOIN.
// A subflow whose connection fell back to TCP at its start has neither.
func (a *msgAttrs) speaksMPTCP() bool {
	return a.ULP == ulpMPTCP && a.SubflowFlags&(mptcpSubflowFlagMcapRem|mptcpSubflowFlagJoinRem) != 0
}

// UnmarshalBinary reads the attributes; the ones it does not know are
// skipped. Attributes that overrun b are an error, and then nothing is read.
func (a *msgAttrs) UnmarshalBinary(b []byte) error {
	*a = msgAttrs{}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		if ad.Type() != inetDiagULPInfo {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case inetULPInfoName:
					a.ULP = nad.String()
				case inetULPInfoMPTCP:
					nad.Nested(func(sf *netlink.AttributeDecoder) error {
						for sf.Next() {
							switch sf.Type() {
							case mptcpSubflowAttrFlags:
								a.SubflowFlags = sf.Uint32()
							case mptcpSubflowAttrTokenLoc:
								a.SubflowToken = sf.Uint32()
							}
						}
						return sf.Err()
					})
				}
			}
			return nad.Err()
		})
	}
	if err := ad.Err(); err != nil {
		*a = msgAttrs{}
		return err
	}
	return nil
}
