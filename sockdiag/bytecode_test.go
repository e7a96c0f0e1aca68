package sockdiag

import (
	"bytes"
	"encoding/binary"

	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// auditProgram checks a program as the kernel's inet_diag_bc_audit does:
// walking the chain of "yes" jumps from the start, every operation is known
// and long enough, every jump is a multiple of 4, at least the operation's
// length and at most len+4, every "no" lands on an instruction of the chain
// or at the end or end+4, and the chain ends exactly at the end.
func auditProgram(prog []byte) error {
	chain := map[int]bool{}
	var targets []int
	pos := 0
	for pos < len(prog) {
		chain[pos] = true
		rem := len(prog) - pos
		if rem < opLen {
			return fmt.Errorf("at %d: %d bytes left, shorter than an op", pos, rem)
		}
		code, yes, no := prog[pos], int(prog[pos+1]), int(binary.NativeEndian.Uint16(prog[pos+2:]))
		var jmpMin int
		switch code {
		case bcSrcCond, bcDstCond:
			if rem < opLen+hostcondLen {
				return fmt.Errorf("at %d: hostcond cut short", pos)
			}
			alen := map[uint8]int{unix.AF_UNSPEC: 0, unix.AF_INET: 4, unix.AF_INET6: 16}
			n, ok := alen[prog[pos+4]]
			if !ok || int(prog[pos+5]) > 8*n || rem < opLen+hostcondLen+n {
				return fmt.Errorf("at %d: bad hostcond family %d prefix %d", pos, prog[pos+4], prog[pos+5])
			}
			jmpMin = opLen + hostcondLen + n
		case bcDevCond, bcSrcGE, bcSrcLE, bcDstGE, bcDstLE:
			jmpMin = 2 * opLen
			if rem < jmpMin {
				return fmt.Errorf("at %d: operand cut short", pos)
			}
		case bcCgroupCond:
			jmpMin = opLen + 8
			if rem < jmpMin {
				return fmt.Errorf("at %d: cgroup id cut short", pos)
			}
		case bcJmp:
		default:
			return fmt.Errorf("at %d: unknown op %d", pos, code)
		}
		if no < jmpMin || no > rem+4 || no%4 != 0 {
			return fmt.Errorf("at %d: no=%d out of bounds (min %d, left %d)", pos, no, jmpMin, rem)
		}
		if no < rem {
			targets = append(targets, pos+no)
		}
		if yes < max(jmpMin, opLen) || yes > rem+4 || yes%4 != 0 {
			return fmt.Errorf("at %d: yes=%d out of bounds", pos, yes)
		}
		pos += yes
	}
	if pos != len(prog) {
		return fmt.Errorf("the yes chain ends at %d, not at the end %d", pos, len(prog))
	}
	for _, t := range targets {
		if !chain[t] {
			return fmt.Errorf("a jump lands at %d, inside an instruction", t)
		}
	}
	return nil
}

// runProgram runs a program on a socket made in the cgroup v2 group cgroup
// (0: none, as a TIME_WAIT socket) as inet_diag_bc_run does: a match is a
// run that ends exactly at the end of the program.
func runProgram(prog []byte, s *Socket, cgroup uint64) bool {
	saddr, daddr := s.ID.Local.Addr().AsSlice(), s.ID.Remote.Addr().AsSlice()
	pos := 0
	for pos < len(prog) {
		code, yes, no := prog[pos], int(prog[pos+1]), int(binary.NativeEndian.Uint16(prog[pos+2:]))
		arg := binary.NativeEndian.Uint16(prog[pos+6:])
		ok := true
		switch code {
		case bcJmp:
			ok = false
		case bcSrcGE:
			ok = s.ID.Local.Port() >= arg
		case bcSrcLE:
			ok = s.ID.Local.Port() <= arg
		case bcDstGE:
			ok = s.ID.Remote.Port() >= arg
		case bcDstLE:
			ok = s.ID.Remote.Port() <= arg
		case bcDevCond:
			ok = s.ID.Interface == binary.NativeEndian.Uint32(prog[pos+4:])
		case bcCgroupCond:
			ok = cgroup == binary.NativeEndian.Uint64(prog[pos+4:])
		case bcSrcCond, bcDstCond:
			fam, plen := prog[pos+4], int(prog[pos+5])
			port := int32(binary.NativeEndian.Uint32(prog[pos+8:]))
			addr, sport := saddr, s.ID.Local.Port()
			if code == bcDstCond {
				addr, sport = daddr, s.ID.Remote.Port()
			}
			cond := prog[pos+12:]
			switch {
			case port != -1 && port != int32(sport):
				ok = false
			case fam != unix.AF_UNSPEC && fam != uint8(s.Family):
				ok = s.Family == inet.IPv6 && fam == unix.AF_INET &&
					bytes.Equal(addr[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) && bitsMatch(addr[12:], cond, plen)
			case plen == 0:
			default:
				ok = bitsMatch(addr, cond, plen)
			}
		}
		if ok {
			pos += yes
		} else {
			pos += no
		}
	}
	return pos == len(prog)
}

func bitsMatch(a, b []byte, n int) bool {
	for i := 0; i < n; i++ {
		if a[i/8]>>(7-i%8)&1 != b[i/8]>>(7-i%8)&1 {
			return false
		}
	}
	return true
}

func TestCompileVectors(t *testing.T) {
	peer := func(s string) inet.Endpoint { return inet.Endpoint{Prefix: netip.MustParsePrefix(s)} }
	tests := []struct {
		name   string
		filter Filter
		fam    inet.Family
		want   string
	}{{
		name:   "one peer",
		filter: Filter{Peers: []inet.Endpoint{peer("192.0.2.2/32")}},
		fam:    inet.IPv4,
		// D_COND yes=16 no=20 (end+4); AF_INET /32 port -1 192.0.2.2
		want: "08 10 14 00  02 20 00 00 ff ff ff ff  c0 00 02 02",
	}, {
		name:   "two peers: or",
		filter: Filter{Peers: []inet.Endpoint{peer("192.0.2.2/32"), peer("192.0.2.3/32")}},
		fam:    inet.IPv4,
		want: "08 10 14 00  02 20 00 00 ff ff ff ff  c0 00 02 02" + // no: to the second term at 20
			"01 04 14 00" + // JMP to the end (36)
			"08 10 14 00  02 20 00 00 ff ff ff ff  c0 00 02 03", // no: end+4
	}, {
		name:   "local port range",
		filter: Filter{LocalPorts: []inet.PortRange{{Lo: 1000, Hi: 2000}}},
		fam:    inet.IPv4,
		want:   "02 08 14 00  00 00 e8 03  03 08 0c 00  00 00 d0 07",
	}, {
		name:   "exact port either end",
		filter: Filter{Ports: []inet.PortRange{{Lo: 5432, Hi: 5432}}},
		fam:    inet.IPv6,
		want: "07 0c 10 00  00 00 00 00 38 15 00 00" + // S_COND AF_UNSPEC port 5432; no: next term at 16
			"01 04 10 00" + // JMP to the end (28)
			"08 0c 10 00  00 00 00 00 38 15 00 00", // D_COND port 5432; no: end+4
	}, {
		name:   "ipv4 only in the ipv6 dump: v4-mapped sockets",
		filter: Filter{Families: []inet.Family{inet.IPv4}},
		fam:    inet.IPv6,
		want:   "07 10 14 00  02 00 00 00 ff ff ff ff  00 00 00 00",
	}, {
		name:   "peer and interface",
		filter: Filter{Peers: []inet.Endpoint{peer("2001:db8::/64")}, Interface: &Interface{Index: 3}},
		fam:    inet.IPv6,
		want: "08 1c 28 00  0a 40 00 00 ff ff ff ff  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 00" +
			"09 08 0c 00  03 00 00 00",
	}, {
		name:   "interface with an address: unscoped sockets by address, scoped ones by interface",
		filter: Filter{Interface: &Interface{Index: 3, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
		fam:    inet.IPv4,
		want: "09 08 1c 00  00 00 00 00" + // DEV_COND 0; no: next term at 28
			"07 10 14 00  02 20 00 00 ff ff ff ff  c0 00 02 01" + // S_COND 192.0.2.1/32; no: 28
			"01 04 0c 00" + // JMP to the end (36)
			"09 08 0c 00  03 00 00 00", // DEV_COND 3; no: end+4
	}, {
		name:   "one cgroup",
		filter: Filter{Cgroups: []uint64{0x1234}},
		fam:    inet.IPv4,
		// CGROUP_COND yes=12 no=16 (end+4); the id as a native u64
		want: "0d 0c 10 00  34 12 00 00 00 00 00 00",
	}, {
		name:   "a peer and two cgroups",
		filter: Filter{Peers: []inet.Endpoint{peer("192.0.2.2/32")}, Cgroups: []uint64{7, 0x100000001}},
		fam:    inet.IPv4,
		want: "08 10 30 00  02 20 00 00 ff ff ff ff  c0 00 02 02" + // the peer; no: end+4 (48)
			"0d 0c 10 00  07 00 00 00 00 00 00 00" + // cgroup 7; no: the next term at 32
			"01 04 10 00" + // JMP to the end (44)
			"0d 0c 10 00  01 00 00 00 01 00 00 00", // cgroup 2^32+1; no: end+4
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := compile(&tt.filter, tt.fam, true)
			if !ok {
				t.Fatal("compile says nothing can match")
			}
			if len(tt.filter.Cgroups) > 0 {
				// A kernel without the operation gets the rest of the program.
				rest := tt.filter
				rest.Cgroups = nil
				without, _ := compile(&tt.filter, tt.fam, false)
				if want, _ := compile(&rest, tt.fam, true); !bytes.Equal(without, want) {
					t.Errorf("without CGROUP_COND: % x, want % x", without, want)
				}
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("program:\n got % x\nwant % x", got, want)
			}
			if err := auditProgram(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCompileNothingToMatch(t *testing.T) {
	f := Filter{Peers: []inet.Endpoint{{Prefix: netip.MustParsePrefix("2001:db8::2/128")}}}
	if _, ok := compile(&f, inet.IPv4, true); ok {
		t.Fatal("an IPv6 peer can match in an IPv4 dump")
	}
	if prog, ok := compile(&Filter{Ports: []inet.PortRange{{Lo: 0, Hi: 65535}}}, inet.IPv4, true); !ok || prog != nil {
		t.Fatalf("every port: program %x, ok %v; want none", prog, ok)
	}
}

// TestCompileAgreesWithMatch is the property the query rests on: for random
// filters and sockets, the program passes the audit and the kernel would
// select exactly the sockets Match selects.
func TestCompileAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		f := randomFilter(r)
		s := randomSocket(r)
		cgroup := testCgroups[r.IntN(len(testCgroups))]
		var attrs []byte
		if cgroup != 0 {
			attrs = attr(inetDiagCgroupID, binary.NativeEndian.AppendUint64(nil, cgroup))
		}
		want := f.MatchInfo(&s, attrs)
		dumped := false
		for _, d := range f.dumps(true) {
			if d.Family != s.Family || d.never {
				continue
			}
			dumped = true
			if d.Bytecode != nil {
				if err := auditProgram(d.Bytecode); err != nil {
					t.Fatalf("filter %+v: %v\nprogram % x", f, err, d.Bytecode)
				}
			}
			got := d.Bytecode == nil || runProgram(d.Bytecode, &s, cgroup)
			if want && !got {
				t.Fatalf("kernel filter drops a socket Match selects:\nfilter %+v\nsocket %+v\nprogram % x", f, s, d.Bytecode)
			}
			if got != want {
				t.Fatalf("kernel filter %v, Match %v:\nfilter %+v\nsocket %+v\nprogram % x", got, want, f, s, d.Bytecode)
			}
		}
		if want && !dumped {
			t.Fatalf("Match selects a socket no dump asks for:\nfilter %+v\nsocket %+v", f, s)
		}
	}
}

var (
	testAddrs4 = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.9"}
	testAddrs6 = []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::2"}
	testPorts  = []uint16{0, 22, 80, 5432, 40000, 65535}
	// testCgroups: 0 is a socket that carries no cgroup id (TIME_WAIT).
	testCgroups = []uint64{0, 1, 0x4000_0000_0001}
)

func randomAddr(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.MustParseAddr(testAddrs4[r.IntN(len(testAddrs4))])
	}
	return netip.MustParseAddr(testAddrs6[r.IntN(len(testAddrs6))])
}

func randomPrefix(r *rand.Rand) netip.Prefix {
	a := randomAddr(r)
	p, _ := a.Prefix(r.IntN(a.BitLen() + 1))
	return p
}

func randomRanges(r *rand.Rand) []inet.PortRange {
	var rs []inet.PortRange
	for range r.IntN(3) {
		lo, hi := testPorts[r.IntN(len(testPorts))], testPorts[r.IntN(len(testPorts))]
		rs = append(rs, inet.PortRange{Lo: min(lo, hi), Hi: max(lo, hi)})
	}
	return rs
}

func randomFilter(r *rand.Rand) Filter {
	var f Filter
	switch r.IntN(4) {
	case 0:
		f.Families = []inet.Family{inet.IPv4}
	case 1:
		f.Families = []inet.Family{inet.IPv6}
	}
	for range r.IntN(3) {
		f.Peers = append(f.Peers, inet.Endpoint{Prefix: randomPrefix(r), Ports: randomRanges(r)})
	}
	for range r.IntN(2) {
		f.Local = append(f.Local, randomPrefix(r))
	}
	f.Ports, f.LocalPorts, f.RemotePorts = randomRanges(r), randomRanges(r), randomRanges(r)
	for range r.IntN(3) {
		f.Cgroups = append(f.Cgroups, testCgroups[1+r.IntN(len(testCgroups)-1)])
	}
	if r.IntN(4) == 0 {
		f.Interface = &Interface{Index: uint32(1 + r.IntN(2)), Addrs: []netip.Addr{randomAddr(r)}} // no interface has index 0
	}
	return f
}

func randomSocket(r *rand.Rand) Socket {
	local, remote := randomAddr(r), randomAddr(r)
	fam := inet.IPv4
	switch {
	case local.Is4() != remote.Is4() || local.Is6():
		fam = inet.IPv6
		local, remote = netip.AddrFrom16(local.As16()), netip.AddrFrom16(remote.As16())
	case r.IntN(3) == 0: // an IPv4 connection on a dual-stack IPv6 socket
		fam = inet.IPv6
		local, remote = netip.AddrFrom16(local.As16()), netip.AddrFrom16(remote.As16())
	}
	return Socket{
		Protocol: inet.TCP, Family: fam, State: Established,
		ID: SockID{
			Local:     netip.AddrPortFrom(local, testPorts[r.IntN(len(testPorts))]),
			Remote:    netip.AddrPortFrom(remote, testPorts[r.IntN(len(testPorts))]),
			Interface: uint32(r.IntN(3)),
			Cookie:    Cookie(r.Uint64()),
		},
	}
}

func TestAuditRejectsBadPrograms(t *testing.T) {
	for name, prog := range map[string][]byte{
		"jump not a multiple of 4": {bcJmp, 4, 6, 0},
		"jump past end+4":          {bcJmp, 4, 12, 0},
		"chain overshoots":         {bcJmp, 8, 4, 0},
		"jump into an operand":     {bcSrcGE, 8, 4, 0, 0, 0, 1, 0},
	} {
		if err := auditProgram(prog); err == nil {
			t.Errorf("%s: the audit accepts % x", name, prog)
		}
	}
	if err := auditProgram([]byte{bcJmp, 4, 8, 0}); err != nil {
		t.Errorf("a jump to end+4 is legal: %v", err)
	}
}
