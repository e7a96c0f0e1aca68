package sockdiag

import (
	"encoding/binary"
	"testing"
)

// attr is one netlink attribute as the kernel lays it out: length, type,
// value, padding to four bytes.
func attr(typ uint16, value []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(nlaHdrLen+len(value)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestMsgAttrsUnmarshal(t *testing.T) {
	shutdown := attr(8, []byte{0})                    // INET_DIAG_SHUTDOWN
	info := attr(inetDiagInfo, make([]byte, 232))     // struct tcp_info
	mptcpInfo := attr(3, attr(1, []byte{1, 0, 0, 0})) // INET_ULP_INFO_MPTCP, nested
	for _, tc := range []struct {
		name string
		b    []byte
		ulp  string
	}{
		{"no attributes", nil, ""},
		{"no ULP", append(shutdown, info...), ""},
		// tcp_diag_put_ulp nests without NLA_F_NESTED: the name, then
		// what the ULP adds (MPTCP's subflow info).
		{"MPTCP subflow", concat(shutdown, info, attr(inetDiagULPInfo, concat(attr(inetULPInfoName, []byte("mptcp\x00")), mptcpInfo))), "mptcp"},
		{"NLA_F_NESTED set", attr(inetDiagULPInfo|1<<15, attr(inetULPInfoName, []byte("tls\x00"))), "tls"},
	} {
		var a msgAttrs
		if err := a.UnmarshalBinary(tc.b); err != nil || a.ULP != tc.ulp {
			t.Errorf("%s: ULP %q, %v; want %q", tc.name, a.ULP, err, tc.ulp)
		}
	}
	// subflow_get_info's flags, nested in the ULP's MPTCP info: the peer answered
	// MP_CAPABLE (MCAP_REM), or did not (a connection that fell back to TCP).
	for _, tc := range []struct {
		flags  uint32
		speaks bool
	}{{1<<0 | 1<<1 | 1<<7, true}, {1<<2 | 1<<3, true}, {1<<1 | 1<<7, false}} {
		// MPTCP_SUBFLOW_ATTR_TOKEN_REM, _TOKEN_LOC, then the flags.
		flags := attr(3, concat(attr(1, binary.NativeEndian.AppendUint32(nil, 0xfeed)), attr(2, binary.NativeEndian.AppendUint32(nil, 0xbeef)),
			attr(8, binary.NativeEndian.AppendUint32(nil, tc.flags))))
		var a msgAttrs
		err := a.UnmarshalBinary(attr(inetDiagULPInfo, concat(attr(inetULPInfoName, []byte("mptcp\x00")), flags)))
		if err != nil || a.SubflowFlags != tc.flags || a.speaksMPTCP() != tc.speaks || a.SubflowToken != 0xbeef {
			t.Errorf("subflow flags %#x: read %#x, token %#x, %v; speaks MPTCP %v, want %v and token 0xbeef", tc.flags, a.SubflowFlags, a.SubflowToken, err, a.speaksMPTCP(), tc.speaks)
		}
	}
	var a msgAttrs
	if err := a.UnmarshalBinary([]byte{200, 0, 19, 0}); err == nil {
		t.Errorf("an attribute longer than its message: ULP %q, no error", a.ULP)
	}
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func FuzzMsgAttrsUnmarshal(f *testing.F) {
	f.Add([]byte{})
	f.Add(attr(inetDiagULPInfo, attr(inetULPInfoName, []byte("mptcp\x00"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a msgAttrs
		if err := a.UnmarshalBinary(b); err != nil && a.ULP != "" {
			t.Fatalf("error %v with ULP %q", err, a.ULP)
		}
	})
}
