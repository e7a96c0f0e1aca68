package sockpacket

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

func TestFilterPassesThePlannedTuplesAlone(t *testing.T) {
	ap := netip.MustParseAddrPort
	planned := []Tuple{
		{ap("198.51.100.2:40000"), ap("198.51.100.1:8080")},
		{ap("[2001:db8::1:2]:5000"), ap("[2001:db8::2:2]:80")},
		{ap("[::ffff:192.0.2.2]:80"), ap("192.0.2.1:33000")},
	}
	prog, err := filter(planned)
	if err != nil {
		t.Fatal(err)
	}
	var ins []bpf.Instruction
	for _, r := range prog {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	pass := func(src, dst netip.AddrPort) int {
		s := Segment{Src: src, Dst: dst, Flags: ACK}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		n, err := vm.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tu := range planned {
		if n := pass(tu.Src, tu.Dst); n != snapLength {
			t.Errorf("%s → %s: passed %d bytes, want %d", tu.Src, tu.Dst, n, snapLength)
		}
		// The other direction, and near misses, do not pass.
		near := []Tuple{{tu.Dst, tu.Src},
			{netip.AddrPortFrom(tu.Src.Addr(), tu.Src.Port()+1), tu.Dst},
			{tu.Src, netip.AddrPortFrom(tu.Dst.Addr(), tu.Dst.Port()+1)},
			{netip.AddrPortFrom(tu.Src.Addr().Unmap().Next(), tu.Src.Port()), tu.Dst},
			{tu.Src, netip.AddrPortFrom(tu.Dst.Addr().Unmap().Prev(), tu.Dst.Port())},
		}
		for _, m := range near {
			if n := pass(m.Src, m.Dst); n != 0 {
				t.Errorf("%s → %s passed (%d bytes)", m.Src, m.Dst, n)
			}
		}
	}
	// A fragment of a planned tuple, and UDP, do not pass.
	s := Segment{Src: planned[0].Src, Dst: planned[0].Dst, Flags: ACK}
	b, _ := s.MarshalBinary()
	frag := append([]byte(nil), b...)
	frag[6] |= 0x20
	udp := append([]byte(nil), b...)
	udp[9] = 17
	// Nor does a planned IPv6 tuple's segment behind an extension header
	// (hop-by-hop options, 8 bytes), nor an IPv4 one with options, where
	// the ports are read past the header's length.
	s6 := Segment{Src: planned[1].Src, Dst: planned[1].Dst, Flags: ACK}
	b6, _ := s6.MarshalBinary()
	ext := append(append(append([]byte(nil), b6[:40]...), 6, 0, 1, 4, 0, 0, 0, 0), b6[40:]...)
	ext[6] = 0
	ext[5] += 8
	for _, p := range [][]byte{frag, udp, ext} {
		if n, err := vm.Run(p); err != nil || n != 0 {
			t.Errorf("% x passed (%d, %v)", p[:20], n, err)
		}
	}
}

func TestFilterIPv4Options(t *testing.T) {
	ap := netip.MustParseAddrPort
	tu := Tuple{ap("198.51.100.2:40000"), ap("198.51.100.1:8080")}
	prog, err := filter([]Tuple{tu})
	if err != nil {
		t.Fatal(err)
	}
	var ins []bpf.Instruction
	for _, r := range prog {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	s := Segment{Src: tu.Src, Dst: tu.Dst, Flags: ACK}
	b, _ := s.MarshalBinary()
	// Four bytes of options (no-ops): the ports are read after them.
	opt := append(append(append([]byte(nil), b[:20]...), 1, 1, 1, 0), b[20:]...)
	opt[0] = 0x46
	opt[3] += 4
	if n, err := vm.Run(opt); err != nil || n != snapLength {
		t.Errorf("with options: passed %d (%v), want %d", n, err, snapLength)
	}
	// The planned ports where a header without options would have them
	// do not fool it: the options are the planned ports, and the TCP
	// header after them has another source port.
	other := append([]byte(nil), opt...)
	copy(other[20:24], b[20:24])
	other[24], other[25] = 0, 1
	if n, err := vm.Run(other); err != nil || n != 0 {
		t.Errorf("another port after the options passed %d (%v)", n, err)
	}
}

func TestFilterBounds(t *testing.T) {
	if _, err := filter(nil); err == nil {
		t.Error("no error for no tuple")
	}
	// As many tuples as fit, of either family, make a program the kernel takes; one
	// more does not fit.
	for _, family := range []func(i int) netip.Addr{
		func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) },
		func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		},
	} {
		var many []Tuple
		for i := range 1000 {
			many = append(many, Tuple{netip.AddrPortFrom(family(i), 1), netip.AddrPortFrom(family(i), 2)})
		}
		n := fits(many)
		prog, err := filter(many[:n])
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) > maxInstructions || n < 50 {
			t.Errorf("%d tuples, %d instructions", n, len(prog))
		}
		if _, err := filter(many[:n+1]); err == nil {
			t.Errorf("no error for %d tuples", n+1)
		}
	}
	mixed := []Tuple{{netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("[2001:db8::1]:1")}}
	if _, err := filter(mixed); err == nil {
		t.Error("no error for a tuple of two families")
	}
}
