package flows

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

// hexBytes decodes a fixture written as hex with spaces and comments (# to the end of a
// line) for reading.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		clean.WriteString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dnatFlowMessage is a dump answer for a TCP flow 198.51.100.2:40000 → 198.51.100.1:8080
// DNATed to 192.0.2.2:80 and masqueraded to 192.0.2.1, as the kernel writes it (counters
// and CTA_USE left in, to be skipped).
const dnatFlowMessage = `
02 00 0000                       # nfgenmsg: AF_INET, v0, res_id 0
3400 0180                        # CTA_TUPLE_ORIG, nested
  1400 0180                      #   CTA_TUPLE_IP
    0800 0100 c6336402           #     CTA_IP_V4_SRC 198.51.100.2
    0800 0200 c6336401           #     CTA_IP_V4_DST 198.51.100.1
  1c00 0280                      #   CTA_TUPLE_PROTO
    0500 0100 06000000           #     CTA_PROTO_NUM 6
    0600 0200 9c400000           #     CTA_PROTO_SRC_PORT 40000
    0600 0300 1f900000           #     CTA_PROTO_DST_PORT 8080
3400 0280                        # CTA_TUPLE_REPLY
  1400 0180
    0800 0100 c0000202           #     192.0.2.2
    0800 0200 c0000201           #     192.0.2.1
  1c00 0280
    0500 0100 06000000
    0600 0200 00500000           #     80
    0600 0300 9c400000           #     40000
0800 0300 0000003e               # CTA_STATUS: seen_reply assured confirmed src_nat dst_nat
0800 0700 0006977f               # CTA_TIMEOUT 431999
3000 0480                        # CTA_PROTOINFO
  2c00 0180                      #   CTA_PROTOINFO_TCP
    0500 0100 03000000           #     CTA_PROTOINFO_TCP_STATE established
    0500 0200 07000000           #     wscale original
    0500 0300 07000000           #     wscale reply
    0600 0400 27000000           #     flags original
    0600 0500 23000000           #     flags reply
0800 0800 00000010               # CTA_MARK 0x10
0800 0c00 a7077cf3               # CTA_ID
0800 0b00 00000001               # CTA_USE
0600 1200 00020000               # CTA_ZONE 2
`

func TestFlowUnmarshal(t *testing.T) {
	var f Flow
	if err := f.UnmarshalBinary(hexBytes(t, dnatFlowMessage)); err != nil {
		t.Fatal(err)
	}
	want := Flow{
		ID: 0xa7077cf3, Family: inet.IPv4, Protocol: inet.TCP,
		Orig:   Tuple{netip.MustParseAddrPort("198.51.100.2:40000"), netip.MustParseAddrPort("198.51.100.1:8080")},
		Reply:  Tuple{netip.MustParseAddrPort("192.0.2.2:80"), netip.MustParseAddrPort("192.0.2.1:40000")},
		Status: SeenReply | Assured | Confirmed | SrcNAT | DstNAT, State: Est, Mark: 0x10, Zone: 2, Timeout: 431999,
	}
	if f != want {
		t.Errorf("decoded\n%#v\nwant\n%#v", f, want)
	}
	if got := strings.Join(f.Status.Words(), ","); got != "assured,snat,dnat" {
		t.Errorf("status words %q", got)
	}
}

func TestFlowUnmarshalRefuses(t *testing.T) {
	full := hexBytes(t, dnatFlowMessage)
	icmp := bytes.Clone(full)
	icmp[4+4+20+8] = 1      // CTA_PROTO_NUM of the original tuple: ICMP
	icmp[4+0x34+4+20+8] = 1 // and of the reply tuple
	for name, b := range map[string][]byte{
		"short":     full[:3],
		"family 7":  append([]byte{7}, full[1:]...),
		"truncated": full[:len(full)-3],
		"no tuples": full[:4],
		"ICMP":      icmp,
		"only orig": full[:4+0x34],
	} {
		var f Flow
		if err := f.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: decoded %#v", name, f)
		}
	}
}

// TestDeleteRequest: a delete carries the original tuple, the zone and the id, and
// nothing else: without the tuple the kernel would flush the whole table.
func TestDeleteRequest(t *testing.T) {
	var f Flow
	if err := f.UnmarshalBinary(hexBytes(t, dnatFlowMessage)); err != nil {
		t.Fatal(err)
	}
	got, err := deleteRequest(f)
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, `
02 00 0000
3400 0180
  1400 0180
    0800 0100 c6336402
    0800 0200 c6336401
  1c00 0280
    0500 0100 06000000
    0600 0200 9c400000
    0600 0300 1f900000
0600 1200 00020000               # CTA_ZONE 2
0800 0c00 a7077cf3               # CTA_ID
`)
	if !bytes.Equal(got, want) {
		t.Errorf("delete request\n%x\nwant\n%x", got, want)
	}
	f.Zone = 0
	f.Family, f.Orig = inet.IPv6, Tuple{netip.MustParseAddrPort("[2001:db8::2]:40000"), netip.MustParseAddrPort("[2001:db8::1]:53")}
	f.Protocol = inet.UDP
	got, err = deleteRequest(f)
	if err != nil {
		t.Fatal(err)
	}
	want = hexBytes(t, `
0a 00 0000
4c00 0180
  2c00 0180
    1400 0300 20010db8000000000000000000000002
    1400 0400 20010db8000000000000000000000001
  1c00 0280
    0500 0100 11000000
    0600 0200 9c400000
    0600 0300 00350000
0800 0c00 a7077cf3
`)
	if !bytes.Equal(got, want) {
		t.Errorf("IPv6 delete request\n%x\nwant\n%x", got, want)
	}
}

func TestDumpRequest(t *testing.T) {
	zone := uint16(3)
	got, err := dumpRequest(inet.IPv4, kernelFilter{mark: &MarkMask{0x10, 0xff}, status: Assured, statusMask: Assured, zone: &zone})
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, `
02 00 0000
0800 0800 00000010   # CTA_MARK
0800 1500 000000ff   # CTA_MARK_MASK
0800 0300 00000004   # CTA_STATUS assured
0800 1a00 00000004   # CTA_STATUS_MASK
0600 1200 00030000   # CTA_ZONE 3
`)
	if !bytes.Equal(got, want) {
		t.Errorf("dump request\n%x\nwant\n%x", got, want)
	}
	if got, _ := dumpRequest(0, kernelFilter{}); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("an unfiltered dump: %x", got)
	}
}

func FuzzFlowUnmarshal(f *testing.F) {
	f.Add(hexBytes(f, dnatFlowMessage))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl Flow
		if err := fl.UnmarshalBinary(b); err != nil {
			return
		}
		if fl.Protocol != inet.TCP && fl.Protocol != inet.UDP || fl.Orig.Src.Addr().Is4() != (fl.Family == inet.IPv4) {
			t.Errorf("decoded an impossible flow %+v", fl)
		}
		if _, err := deleteRequest(fl); err != nil {
			t.Errorf("a decoded flow does not encode: %v", err)
		}
	})
}

// TestRequestAllocs: a window's requests are encoded into its reused buffer, with no
// allocation per request.
func TestRequestAllocs(t *testing.T) {
	var f Flow
	if err := f.UnmarshalBinary(hexBytes(t, dnatFlowMessage)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = appendGet(appendDelete(buf[:0], &f), &f) }); n != 0 {
		t.Errorf("%v allocations to encode a delete and a get", n)
	}
	if get, del := appendGet(nil, &f), appendDelete(nil, &f); !bytes.Equal(get, del[:len(del)-8]) || !bytes.Equal(del[len(del)-8:], []byte{8, 0, ctaID, 0, 0xa7, 0x07, 0x7c, 0xf3}) {
		t.Errorf("a get is the delete without its CTA_ID:\n%x\n%x", get, del)
	}
}
