package sockdiag

import (
	"encoding/binary"
	"math"
	"net/netip"

	"github.com/tcpreap/tcpreap/inet"
)

// Operations of the inet_diag filter program (include/uapi/linux/inet_diag.h).
const (
	bcJmp     = 1 // INET_DIAG_BC_JMP
	bcSrcGE   = 2 // INET_DIAG_BC_S_GE
	bcSrcLE   = 3 // INET_DIAG_BC_S_LE
	bcDstGE   = 4 // INET_DIAG_BC_D_GE
	bcDstLE   = 5 // INET_DIAG_BC_D_LE
	bcSrcCond = 7 // INET_DIAG_BC_S_COND
	bcDstCond = 8 // INET_DIAG_BC_D_COND
	bcDevCond = 9 // INET_DIAG_BC_DEV_COND, Linux 4.15
	// INET_DIAG_BC_CGROUP_COND, Linux 5.10, in kernels built with
	// CONFIG_SOCK_CGROUP_DATA (others refuse the program: EINVAL).
	bcCgroupCond = 13
)

// opLen is sizeof(struct inet_diag_bc_op); hostcondLen is
// sizeof(struct inet_diag_hostcond) without its address.
const (
	opLen       = 4
	hostcondLen = 8
)

// A test is one instruction of a filter program without its jumps: the
// operation and the operand bytes that follow the op header.
type test struct {
	code    uint8
	operand []byte
}

func (t test) len() int { return opLen + len(t.operand) }

// A term is a conjunction of tests, a group a disjunction of terms; the
// program is the conjunction of its groups.
type (
	term  []test
	group []term
)

// addrTest tests the local (S_COND) or remote (D_COND) address against a
// prefix, and the port when port >= 0. The kernel lets an AF_INET condition
// match the v4-mapped address of an AF_INET6 socket.
func addrTest(code uint8, p netip.Prefix, port int32) test {
	fam, addr := uint8(afUnspec), []byte(nil)
	if p.IsValid() {
		fam = afInet
		if p.Addr().Is6() {
			fam = afInet6
		}
		addr = p.Addr().AsSlice()
	}
	b := make([]byte, hostcondLen, hostcondLen+len(addr))
	b[0] = fam
	if p.IsValid() {
		b[1] = uint8(p.Bits())
	}
	binary.NativeEndian.PutUint32(b[4:8], uint32(port))
	return test{code, append(b, addr...)}
}

// portTests tests one end's port against a range; nil means any port.
func portTests(local bool, r inet.PortRange) term {
	cond, ge, le := uint8(bcDstCond), uint8(bcDstGE), uint8(bcDstLE)
	if local {
		cond, ge, le = bcSrcCond, bcSrcGE, bcSrcLE
	}
	if r.Lo == r.Hi {
		return term{addrTest(cond, netip.Prefix{}, int32(r.Lo))}
	}
	var t term
	if r.Lo > 0 {
		t = append(t, portCompare(ge, r.Lo))
	}
	if r.Hi < math.MaxUint16 {
		t = append(t, portCompare(le, r.Hi))
	}
	return t
}

// portCompare is a GE/LE operation; its port rides in the "no" field of a
// second op header.
func portCompare(code uint8, port uint16) test {
	b := make([]byte, opLen)
	binary.NativeEndian.PutUint16(b[2:4], port)
	return test{code, b}
}

func devTest(index uint32) test {
	return test{bcDevCond, binary.NativeEndian.AppendUint32(nil, index)}
}

// cgroupTest tests the id of the socket's cgroup v2 group, a u64 after the
// op header. A socket that is not a full one (TIME_WAIT, SYN_RECV) has the
// id 0 there, which no group has.
func cgroupTest(id uint64) test {
	return test{bcCgroupCond, binary.NativeEndian.AppendUint64(nil, id)}
}

// fits reports whether an address condition can match sockets of a dump's
// family: IPv4 prefixes match in both (v4-mapped), IPv6 ones only in IPv6.
func fits(p netip.Prefix, fam inet.Family) bool { return fam == inet.IPv6 || p.Addr().Is4() }

// groups turns the filter's selectors into the program's groups for a dump
// of one family. Protocol and states are the request's business. The
// cgroups go in only when cgroupCond says the kernel knows the operation;
// else MatchInfo alone checks them.
func (f *Filter) groups(fam inet.Family, cgroupCond bool) []group {
	var gs []group
	if fam == inet.IPv6 && !f.wantsFamily(inet.IPv6) {
		gs = append(gs, group{{addrTest(bcSrcCond, netip.PrefixFrom(netip.IPv4Unspecified(), 0), -1)}})
	}
	var peers group
	for _, e := range f.Peers {
		if !fits(e.Prefix, fam) {
			continue
		}
		if e.Ports == nil {
			peers = append(peers, term{addrTest(bcDstCond, e.Prefix, -1)})
		}
		for _, r := range e.Ports {
			if r.Lo == r.Hi {
				peers = append(peers, term{addrTest(bcDstCond, e.Prefix, int32(r.Lo))})
				continue
			}
			peers = append(peers, append(term{addrTest(bcDstCond, e.Prefix, -1)}, portTests(false, r)...))
		}
	}
	var local group
	for _, p := range f.Local {
		if fits(p, fam) {
			local = append(local, term{addrTest(bcSrcCond, p, -1)})
		}
	}
	var ports, lports, rports group
	for _, r := range f.Ports {
		ports = append(ports, portTests(true, r), portTests(false, r))
	}
	for _, r := range f.LocalPorts {
		lports = append(lports, portTests(true, r))
	}
	for _, r := range f.RemotePorts {
		rports = append(rports, portTests(false, r))
	}
	var dev group
	if i := f.Interface; i != nil {
		// A socket with a scope is on its interface only; one without is
		// on the interface whose address it has.
		for _, a := range i.Addrs {
			if p := netip.PrefixFrom(a, a.BitLen()); fits(p, fam) {
				dev = append(dev, term{devTest(0), addrTest(bcSrcCond, p, -1)})
			}
		}
		dev = append(dev, term{devTest(i.Index)})
	}
	var cgroups group
	for _, id := range f.Cgroups {
		cgroups = append(cgroups, term{cgroupTest(id)})
	}
	for _, sel := range []struct {
		set bool
		g   group
	}{
		{len(f.Peers) > 0, peers},
		{len(f.Local) > 0, local},
		{len(f.Ports) > 0, ports},
		{len(f.LocalPorts) > 0, lports},
		{len(f.RemotePorts) > 0, rports},
		{f.Interface != nil, dev},
		{cgroupCond && len(f.Cgroups) > 0, cgroups},
	} {
		if sel.set {
			gs = append(gs, sel.g)
		}
	}
	return gs
}

// compile returns the filter program for a dump of one family, or nil when
// none is needed (or it would be too long for the kernel, which then leaves
// all the filtering to Match). ok is false when the selection can match no
// socket of this family, and the dump can be skipped. cgroupCond: the
// kernel has INET_DIAG_BC_CGROUP_COND.
func compile(f *Filter, fam inet.Family, cgroupCond bool) (prog []byte, ok bool) {
	var gs []group
	for _, g := range f.groups(fam, cgroupCond) {
		switch {
		case len(g) == 0:
			return nil, false
		case alwaysTrue(g):
			continue
		}
		gs = append(gs, g)
	}
	if len(gs) == 0 {
		return nil, true
	}
	return assemble(gs), true
}

func alwaysTrue(g group) bool {
	for _, t := range g {
		if len(t) == 0 {
			return true
		}
	}
	return false
}

// reject is the jump target past the end of the program plus 4, where the
// kernel stops with "no match".
const reject = -1

// An insn is a test placed in the program with the index of the instruction
// its "no" branch goes to (len(insns) is the end: a match; reject: none).
// Every "yes" falls through to the next instruction, so the kernel's audit,
// which walks the yes-chain, reaches every instruction and every jump target.
type insn struct {
	test
	no int
}

// assemble lays the groups out one after another. Within a group each term
// but the last ends in a JMP to the group's end (a match of the group), and
// each of its tests fails over to the next term; the last term's tests fail
// to reject.
func assemble(gs []group) []byte {
	var insns []insn
	for _, g := range gs {
		var toEnd []int // JMPs whose target is this group's end
		for ti, t := range g {
			last := ti == len(g)-1
			next := len(insns) + len(t) + 1 // after this term and its JMP
			for _, tst := range t {
				no := next
				if last {
					no = reject
				}
				insns = append(insns, insn{tst, no})
			}
			if !last {
				toEnd = append(toEnd, len(insns))
				insns = append(insns, insn{test: test{code: bcJmp}})
			}
		}
		for _, j := range toEnd {
			insns[j].no = len(insns)
		}
	}
	pos := make([]int, len(insns)+1)
	for i, in := range insns {
		pos[i+1] = pos[i] + in.len()
	}
	total := pos[len(insns)]
	if total+opLen > math.MaxUint16-nlaHdrLen {
		return nil
	}
	prog := make([]byte, 0, total)
	for i, in := range insns {
		target := total + opLen
		if in.no != reject {
			target = pos[in.no]
		}
		prog = append(prog, in.code, uint8(in.len()))
		prog = binary.NativeEndian.AppendUint16(prog, uint16(target-pos[i]))
		prog = append(prog, in.operand...)
	}
	return prog
}
