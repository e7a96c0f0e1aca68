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
// of Dump). It holds each entry in a packed record of 52 bytes without
// pointers (an IPv6 one 64 bytes more), where a Flow takes 160 and a plan
// and its dry run hold each entry three times, in chunks that growing
// never copies, and sorts 16 bytes per entry: a list of a hundred thousand
// IPv4 entries holds 5 MB (and 2 MB more while it sorts), which the
// garbage collector need not scan. A List deletes nothing; a delete goes
// by a Plan.
type List struct {
	chunks  [][]row // in the order of Results
	n       int     // how many rows the chunks hold
	v6      [][][4][16]byte
	nv6     int // how many addresses of IPv6 entries v6 holds
	targets int
}

// chunkRows is how many rows a chunk of a List holds (208 KiB), and how
// many IPv6 entries' addresses one of its v6 chunks (256 KiB).
const chunkRows = 4096

// ordered is a row of a List, by its index, with its sort key: the leading
// part of its order (sortKey).
type ordered struct {
	key uint64
	i   uint32
}

// row is one entry of a List, packed: the addresses of its four ends (an
// IPv6 entry's in the List's v6), its ports, and what UnmarshalBinary
// decoded besides.
type row struct {
	v4                       [4][4]byte // orig src, orig dst, reply src, reply dst
	ports                    [4]uint16
	id, status, mark, expiry uint32
	v6                       uint32 // an IPv6 entry's addresses: List.v6's v6th
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

// add packs fl, kept back for keep, as the List's last row.
func (l *List) add(fl *Flow, keep keepReason) {
	r := row{
		ports:  [4]uint16{fl.Orig.Src.Port(), fl.Orig.Dst.Port(), fl.Reply.Src.Port(), fl.Reply.Dst.Port()},
		id:     fl.ID,
		status: uint32(fl.Status), mark: fl.Mark, expiry: fl.Timeout,
		zone: fl.Zone, family: fl.Family, protocol: fl.Protocol, state: fl.State, zoneDir: fl.zoneDir,
		keep: keep,
	}
	ends := [4]netip.Addr{fl.Orig.Src.Addr(), fl.Orig.Dst.Addr(), fl.Reply.Src.Addr(), fl.Reply.Dst.Addr()}
	if fl.Family == inet.IPv4 {
		for i, a := range ends {
			r.v4[i] = a.As4()
		}
	} else {
		if l.nv6%chunkRows == 0 {
			l.v6 = append(l.v6, make([][4][16]byte, 0, chunkRows))
		}
		var addrs [4][16]byte
		for i, a := range ends {
			addrs[i] = a.As16()
		}
		last := &l.v6[len(l.v6)-1]
		*last = append(*last, addrs)
		r.v6 = uint32(l.nv6)
		l.nv6++
	}
	if l.n%chunkRows == 0 {
		l.chunks = append(l.chunks, make([]row, 0, chunkRows))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, r)
	l.n++
}

func (l *List) row(i uint32) *row { return &l.chunks[i/chunkRows][i%chunkRows] }

// addr is the address of r's end i, in 4 bytes or 16 as its family has it.
func (l *List) addr(r *row, i int) []byte {
	if r.family == inet.IPv4 {
		return r.v4[i][:]
	}
	return l.v6[r.v6/chunkRows][r.v6%chunkRows][i][:]
}

// end is the address and port of r's end i, as UnmarshalBinary decoded
// it: IPv4 in an IPv4 entry, IPv6 in an IPv6 one.
func (l *List) end(r *row, i int) netip.AddrPort {
	var a netip.Addr
	if r.family == inet.IPv4 {
		a = netip.AddrFrom4(r.v4[i])
	} else {
		a = netip.AddrFrom16([16]byte(l.addr(r, i)))
	}
	return netip.AddrPortFrom(a, r.ports[i])
}

func (l *List) flow(r *row) Flow {
	return Flow{
		ID: r.id, Family: r.family, Protocol: r.protocol,
		Orig:   Tuple{l.end(r, 0), l.end(r, 1)},
		Reply:  Tuple{l.end(r, 2), l.end(r, 3)},
		Status: Status(r.status), State: r.state, Mark: r.mark,
		Zone: r.zone, zoneDir: r.zoneDir, Timeout: r.expiry,
	}
}

// compareEnd orders end i of rows a and b as netip.AddrPort.Compare does:
// IPv4 before IPv6, then the address, then the port.
func (l *List) compareEnd(a, b *row, i int) int {
	return cmp.Or(cmp.Compare(a.family, b.family), bytes.Compare(l.addr(a, i), l.addr(b, i)), cmp.Compare(a.ports[i], b.ports[i]))
}

// compare orders rows as Plan.DryRun does: targets first, then as Dump
// does (protocol, client, server, zone, id).
func (l *List) compare(a, b *row) int {
	return cmp.Or(cmp.Compare(min(a.keep, 1), min(b.keep, 1)), cmp.Compare(a.protocol, b.protocol),
		l.compareEnd(a, b, 0), l.compareEnd(a, b, 1), cmp.Compare(a.zone, b.zone), cmp.Compare(a.id, b.id))
}

// sortKey is the leading part of compare's order in one number, so that
// most comparisons are one: kept back or not, the protocol, the family,
// then the client's IPv4 address and port, or the first 54 bits of its
// IPv6 address. Rows of equal keys are ordered by compare.
func (l *List) sortKey(r *row) uint64 {
	k := uint64(min(r.keep, 1))<<63 | uint64(r.protocol)<<55
	if r.family == inet.IPv4 {
		return k | uint64(binary.BigEndian.Uint32(r.v4[0][:]))<<22 | uint64(r.ports[0])<<6
	}
	return k | 1<<54 | binary.BigEndian.Uint64(l.addr(r, 0)[:8])>>10
}

// sameEntry reports whether rows a and b are one entry that a dump sent
// twice: the same id, original tuple and zone.
func (l *List) sameEntry(a, b *row) bool {
	return a.id == b.id && a.zone == b.zone && a.family == b.family && a.ports[0] == b.ports[0] && a.ports[1] == b.ports[1] &&
		bytes.Equal(l.addr(a, 0), l.addr(b, 0)) && bytes.Equal(l.addr(a, 1), l.addr(b, 1))
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
	if err := t.Walk(ctx, f, func(fl *Flow) { l.add(fl, keepOf(keeps(session, fl))) }); err != nil {
		return nil, err
	}
	order := make([]ordered, l.n)
	for i := range order {
		order[i] = ordered{l.sortKey(l.row(uint32(i))), uint32(i)}
	}
	slices.SortFunc(order, func(a, b ordered) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return l.compare(l.row(a.i), l.row(b.i))
	})
	// An entry sent twice is found beside itself (kept back or not alike).
	order = slices.CompactFunc(order, func(a, b ordered) bool { return l.sameEntry(l.row(a.i), l.row(b.i)) })
	l.arrange(order)
	for i := range l.n {
		if l.row(uint32(i)).keep == 0 {
			l.targets++
		}
	}
	return l, nil
}

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
				res := Result{Flow: l.flow(r), Action: inet.WouldKill}
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
