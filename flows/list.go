package flows

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"iter"
	"net/netip"
	"slices"

	"github.com/tcpreap/tcpreap/inet"
)

// A List is what a dry run of a plan shows, without the plan: every entry a
// selection matched, what would be done to it and why, in the order of
// Plan.DryRun (the targets, then those kept back, each part in the order
// of Dump). It holds each entry in a packed record of 96 bytes without
// pointers, where a Flow takes 160 and a plan and its dry run hold each
// entry three times, in chunks that growing never copies, and sorts 16
// bytes per entry: a list of a hundred thousand entries holds 12 MB (and
// 2 MB while it sorts), which the garbage collector need not scan. A List deletes nothing; a delete
// goes by a Plan.
type List struct {
	chunks  [][]row // in the order of Results
	n       int     // how many rows the chunks hold
	targets int
}

// chunkRows is how many rows a chunk of a List holds (384 KiB).
const chunkRows = 4096

// ordered is a row of a List, by its index, with its sort key: the leading
// part of its order (sortKey).
type ordered struct {
	key uint64
	i   uint32
}

// row is one entry of a List, packed: the addresses of its four ends in
// 16 bytes each (an IPv4 one in the first 4), its ports, and what
// UnmarshalBinary decoded besides.
type row struct {
	addrs                    [4][16]byte // orig src, orig dst, reply src, reply dst
	ports                    [4]uint16
	id, status, mark, expiry uint32
	zone                     uint16
	family                   inet.Family
	protocol                 inet.Protocol
	state                    TCPState
	zoneDir                  zoneDir
	keep                     keepReason
}

// keepReason is why a plan keeps an entry back (keeps), as a number: 0 for
// none.
type keepReason uint8

var keepReasons = [...]string{"", ReasonSession, ReasonSSHServer, ReasonSSHHidden}

func keepOf(reason string) keepReason {
	return keepReason(max(0, slices.Index(keepReasons[:], reason)))
}

func pack(fl *Flow, keep keepReason) row {
	r := row{
		ports:  [4]uint16{fl.Orig.Src.Port(), fl.Orig.Dst.Port(), fl.Reply.Src.Port(), fl.Reply.Dst.Port()},
		id:     fl.ID,
		status: uint32(fl.Status), mark: fl.Mark, expiry: fl.Timeout,
		zone: fl.Zone, family: fl.Family, protocol: fl.Protocol, state: fl.State, zoneDir: fl.zoneDir,
		keep: keep,
	}
	for i, a := range [4]netip.Addr{fl.Orig.Src.Addr(), fl.Orig.Dst.Addr(), fl.Reply.Src.Addr(), fl.Reply.Dst.Addr()} {
		if a.Is4() {
			b := a.As4()
			copy(r.addrs[i][:], b[:])
		} else {
			r.addrs[i] = a.As16()
		}
	}
	return r
}

// end is the address and port of end i, as UnmarshalBinary decoded it:
// IPv4 in an IPv4 entry, IPv6 in an IPv6 one.
func (r *row) end(i int) netip.AddrPort {
	var a netip.Addr
	if r.family == inet.IPv4 {
		a = netip.AddrFrom4([4]byte(r.addrs[i][:4]))
	} else {
		a = netip.AddrFrom16(r.addrs[i])
	}
	return netip.AddrPortFrom(a, r.ports[i])
}

func (r *row) flow() Flow {
	return Flow{
		ID: r.id, Family: r.family, Protocol: r.protocol,
		Orig:   Tuple{r.end(0), r.end(1)},
		Reply:  Tuple{r.end(2), r.end(3)},
		Status: Status(r.status), State: r.state, Mark: r.mark,
		Zone: r.zone, zoneDir: r.zoneDir, Timeout: r.expiry,
	}
}

// compareEnd orders end i as netip.AddrPort.Compare does: IPv4 before
// IPv6, then the address, then the port.
func (r *row) compareEnd(o *row, i int) int {
	return cmp.Or(cmp.Compare(r.family, o.family), bytes.Compare(r.addrs[i][:], o.addrs[i][:]), cmp.Compare(r.ports[i], o.ports[i]))
}

// compare orders rows as Plan.DryRun does: targets first, then as Dump
// does (protocol, client, server, zone, id).
func (r *row) compare(o *row) int {
	return cmp.Or(cmp.Compare(min(r.keep, 1), min(o.keep, 1)), cmp.Compare(r.protocol, o.protocol),
		r.compareEnd(o, 0), r.compareEnd(o, 1), cmp.Compare(r.zone, o.zone), cmp.Compare(r.id, o.id))
}

// sortKey is the leading part of compare's order in one number, so that
// most comparisons are one: kept back or not, the protocol, the family,
// then the client's IPv4 address and port, or the first 54 bits of its
// IPv6 address. Rows of equal keys are ordered by compare.
func (r *row) sortKey() uint64 {
	k := uint64(min(r.keep, 1))<<63 | uint64(r.protocol)<<55
	if r.family == inet.IPv4 {
		return k | uint64(binary.BigEndian.Uint32(r.addrs[0][:4]))<<22 | uint64(r.ports[0])<<6
	}
	return k | 1<<54 | binary.BigEndian.Uint64(r.addrs[0][:8])>>10
}

// sameEntry reports whether r and o are one entry that a dump sent twice:
// the same id, original tuple and zone.
func (r *row) sameEntry(o *row) bool {
	return r.id == o.id && r.zone == o.zone && r.family == o.family && r.addrs[0] == o.addrs[0] && r.addrs[1] == o.addrs[1] &&
		r.ports[0] == o.ports[0] && r.ports[1] == o.ports[1]
}

// NewList dumps t and lists the entries f selects, those of the SSH
// session tcpreap runs in (nil: none, or included) kept back, as
// NewPlan(Dump(…), session).DryRun() would, entry for entry and in its
// order. It costs one dump and a sort of 16 bytes per entry.
//
// Errors: those of t.Walk.
func NewList(ctx context.Context, t interface {
	Walk(ctx context.Context, f *Filter, fn func(*Flow)) error
}, f *Filter, session *inet.Session) (*List, error) {
	l := &List{}
	err := t.Walk(ctx, f, func(fl *Flow) {
		if l.n%chunkRows == 0 {
			l.chunks = append(l.chunks, make([]row, 0, chunkRows))
		}
		last := &l.chunks[len(l.chunks)-1]
		*last = append(*last, pack(fl, keepOf(keeps(session, fl))))
		l.n++
	})
	if err != nil {
		return nil, err
	}
	order := make([]ordered, l.n)
	for i := range order {
		order[i] = ordered{l.row(uint32(i)).sortKey(), uint32(i)}
	}
	slices.SortFunc(order, func(a, b ordered) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return l.row(a.i).compare(l.row(b.i))
	})
	// An entry sent twice is found beside itself (kept back or not alike).
	order = slices.CompactFunc(order, func(a, b ordered) bool { return l.row(a.i).sameEntry(l.row(b.i)) })
	l.arrange(order)
	for i := range l.n {
		if l.row(uint32(i)).keep == 0 {
			l.targets++
		}
	}
	return l, nil
}

func (l *List) row(i uint32) *row { return &l.chunks[i/chunkRows][i%chunkRows] }

// arrange puts the rows in order, in place, and drops those order leaves
// out: each row is moved once, to its place, so that Results reads the
// chunks from first to last, not the rows all over them (twice, for a
// table's widths and its lines).
func (l *List) arrange(order []ordered) {
	const dropped = ^uint32(0)
	place := make([]uint32, l.n) // where each row goes
	for i := range place {
		place[i] = dropped
	}
	for k, o := range order {
		place[o.i] = uint32(k)
	}
	for i := range uint32(l.n) {
		for place[i] != dropped && place[i] != i {
			j := place[i]
			*l.row(i), *l.row(j) = *l.row(j), *l.row(i)
			place[i], place[j] = place[j], place[i]
		}
	}
	l.n = len(order)
	for c := range l.chunks {
		l.chunks[c] = l.chunks[c][:min(chunkRows, max(0, l.n-c*chunkRows))]
	}
	l.chunks = l.chunks[:(l.n+chunkRows-1)/chunkRows]
}

// Len is how many entries the selection matched.
func (l *List) Len() int { return l.n }

// Targets is how many of them a delete would delete: the plan's targets.
func (l *List) Targets() int { return l.targets }

// Results yields each entry as Plan.DryRun has it: would_kill, or skipped
// with the reason. It can be ranged over again.
func (l *List) Results() iter.Seq[Result] {
	return func(yield func(Result) bool) {
		for _, chunk := range l.chunks {
			for i := range chunk {
				r := &chunk[i]
				res := Result{Flow: r.flow(), Action: inet.WouldKill}
				if r.keep != 0 {
					res.Action, res.Reason = inet.Skipped, keepReasons[r.keep]
				}
				if !yield(res) {
					return
				}
			}
		}
	}
}

// Summary counts the entries as inet.Summarize counts the dry run.
func (l *List) Summary() inet.Summary {
	return inet.Summary{Matched: l.n, WouldKill: l.targets, Skipped: l.n - l.targets}
}
