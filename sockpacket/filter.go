package sockpacket

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// A Tuple is one direction of a connection: segments from Src to Dst.
type Tuple struct {
	Src, Dst netip.AddrPort
}

// snapLength is how much of a packet the filter passes: its IP and TCP
// headers, with options, and no more.
const snapLength = 128

// The size of a filter: the kernel takes at most 4,096 instructions
// (BPF_MAXINSNS), and charges the program as it converts it to eBPF (a load
// becomes several instructions) to the socket's option memory
// (net.core.optmem_max, 128 KiB on current kernels, 20 KiB on old ones):
// maxInstructions keeps well within both, and a capture that is refused
// all the same is made again with half its tuples (see Reset). An IPv4
// tuple costs cost4 instructions, an IPv6 one cost6, and the rest of the
// program filterBase.
const (
	maxInstructions = 1024
	cost4           = 7
	cost6           = 19
	filterBase      = 20
)

// fits returns how many of tuples, from the first, one filter takes.
func fits(tuples []Tuple) int {
	n := filterBase
	for i, t := range tuples {
		c := cost6
		if t.Src.Addr().Unmap().Is4() {
			c = cost4
		}
		if n += c; n > maxInstructions {
			return i
		}
	}
	return len(tuples)
}

// filter assembles the classic BPF program of a capture that passes TCP
// segments of the tuples and nothing else, for an AF_PACKET socket of type
// SOCK_DGRAM (the program sees the packet from its IP header on). A
// fragment never passes; nor does an IPv6 packet with an extension header
// before TCP.
func filter(tuples []Tuple) ([]bpf.RawInstruction, error) {
	if len(tuples) == 0 || fits(tuples) < len(tuples) {
		return nil, fmt.Errorf("a capture filter takes 1 to %d instructions' worth of tuples, not %d tuples", maxInstructions, len(tuples))
	}
	var v4, v6 []bpf.Instruction
	for _, t := range tuples {
		src, dst := t.Src.Addr().Unmap(), t.Dst.Addr().Unmap()
		ports := uint32(t.Src.Port())<<16 | uint32(t.Dst.Port())
		var block []bpf.Instruction
		if src.Is4() && dst.Is4() {
			block = append(block, word(12, src.AsSlice())...)
			block = append(block, word(16, dst.AsSlice())...)
			block = append(block, bpf.LoadIndirect{Off: 0, Size: 4}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: ports, SkipFalse: 1})
			v4 = append(v4, miss(block)...)
			continue
		}
		if !src.Is6() || !dst.Is6() {
			return nil, fmt.Errorf("tuple %s → %s: the two ends are not of one address family", t.Src, t.Dst)
		}
		block = append(block, word(8, src.AsSlice())...)
		block = append(block, word(24, dst.AsSlice())...)
		block = append(block, bpf.LoadAbsolute{Off: 40, Size: 4}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: ports, SkipFalse: 1})
		v6 = append(v6, miss(block)...)
	}
	reject := bpf.RetConstant{Val: 0}
	// IPv4: TCP, not a fragment, X the header's length.
	head4 := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 1}, reject, // IPPROTO_TCP
		bpf.LoadAbsolute{Off: 6, Size: 2}, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipFalse: 1}, reject, // MF, offset
		bpf.LoadMemShift{Off: 0},
	}
	head6 := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 6, Size: 1}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 1}, reject, // next header TCP
	}
	block4 := append(append(head4, v4...), reject)
	block6 := append(append(head6, v6...), reject)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: 1},
		bpf.Jump{Skip: 3},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipFalse: 1},
		bpf.Jump{Skip: uint32(1 + len(block4))},
		reject,
	}
	prog = append(append(prog, block4...), block6...)
	if len(prog) > maxInstructions {
		return nil, fmt.Errorf("a capture filter of %d instructions, more than the kernel takes", len(prog))
	}
	return bpf.Assemble(prog)
}

// word compares the address at off with a, 4 bytes at a time: a mismatch
// jumps to the instruction after the tuple's block (see miss).
func word(off uint32, a []byte) []bpf.Instruction {
	var out []bpf.Instruction
	for i := 0; i < len(a); i += 4 {
		out = append(out, bpf.LoadAbsolute{Off: off + uint32(i), Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: binary.BigEndian.Uint32(a[i:])})
	}
	return out
}

// miss fills in the false branch of every comparison of a tuple's block to
// land just after it, and ends the block with the accept: a tuple that
// matches passes its first snapLength bytes.
func miss(block []bpf.Instruction) []bpf.Instruction {
	block = append(block, bpf.RetConstant{Val: snapLength})
	for i, ins := range block {
		if j, ok := ins.(bpf.JumpIf); ok {
			j.SkipTrue, j.SkipFalse = 0, uint8(len(block)-1-i)
			block[i] = j
		}
	}
	return block
}
