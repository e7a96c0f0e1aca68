// Package sockdiagtest is a fake of the kernel's inet_diag for unit tests:
// a table of sockets that dumps answer from and destroys remove, spoken to
// over a fake netlink socket (Wire). Integration tests use the real kernel.
package sockdiagtest

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// A Kernel holds sockets and answers SOCK_DIAG_BY_FAMILY and SOCK_DESTROY
// requests about them as Linux does: dumps by family, protocol, state mask
// and port prefilter (the filter program is not run: tcpreap checks every
// answer in Go anyway), destroys by tuple and cookie.
type Kernel struct {
	Sockets []sockdiag.Socket
	// DumpBatch is how many sockets go in one datagram of a dump (default 2),
	// so that tests see dumps that span several reads.
	DumpBatch int
	// DestroyErr, when set, is the errno a destroy of an existing socket
	// answers; 0 destroys it.
	DestroyErr func(s sockdiag.Socket) unix.Errno
	// Ineffective makes a destroy answer 0 and leave the socket in place, as
	// kernels before 6.11 did for orphaned sockets.
	Ineffective bool
	// NoDestroy makes every destroy answer EOPNOTSUPP, found or not, as a
	// kernel built without CONFIG_INET_DIAG_DESTROY does.
	NoDestroy bool
	// Reuseport, when set, makes the LISTEN sockets that share a family, a
	// protocol and a local address and port an SO_REUSEPORT group. Linux
	// finds a destroy's target by its tuple and then compares the cookie;
	// for a group the tuple lookup selects one member (reuseport_select_sock).
	// Reuseport(n) is the index of the member selected among the n of the
	// group still there, in the order of Sockets: a destroy of any other
	// member answers ENOENT, though the socket is there.
	Reuseport func(members int) int
	// ULP holds the TCP upper layer protocol of sockets, by cookie: "mptcp"
	// for the subflows of an MPTCP socket. A dump that asks for
	// INET_DIAG_INFO carries it in INET_DIAG_ULP_INFO, and a destroy of a
	// LISTEN socket whose ULP is "mptcp" answers EINVAL, as Linux's
	// tcp_abort_override does.
	ULP map[sockdiag.Cookie]string
	// SubflowFlags holds the MPTCP_SUBFLOW_ATTR_FLAGS of subflows (sockets
	// whose ULP is "mptcp"), by cookie, nested in their ULP info.
	SubflowFlags map[sockdiag.Cookie]uint32
	// SubflowTokens holds the MPTCP_SUBFLOW_ATTR_TOKEN_LOC of subflows, by
	// cookie, nested in their ULP info beside their flags.
	SubflowTokens map[sockdiag.Cookie]uint32
	// MPTCP holds the MPTCP sockets (IPPROTO_MPTCP), which only a dump with
	// INET_DIAG_REQ_PROTOCOL shows; NoMPTCPDiag makes that dump answer
	// ENOENT, as a kernel without MPTCP's diag does.
	MPTCP       []sockdiag.Socket
	NoMPTCPDiag bool
	// Cgroups holds the cgroup v2 group ids of sockets, by cookie: every
	// dump carries them (INET_DIAG_CGROUP_ID), and a dump whose filter
	// program tests them (INET_DIAG_BC_CGROUP_COND) gets only the sockets
	// of a group it names; the program's other operations are not run.
	Cgroups map[sockdiag.Cookie]uint64
	// NoCgroupCond makes a dump whose filter program has
	// INET_DIAG_BC_CGROUP_COND answer EINVAL, as a kernel before 5.10 or
	// built without CONFIG_SOCK_CGROUP_DATA does.
	NoCgroupCond bool
	// NoDiag lists protocols whose diag module the kernel lacks: their
	// dumps and destroys answer ENOENT.
	NoDiag []inet.Protocol
	// Stuck, when set, says which sockets' lock is held: a destroy of one
	// holds the sendmsg that carries it (not the other connections) until
	// Unstick is closed.
	Stuck   func(s sockdiag.Socket) bool
	Unstick chan struct{}
	// Release is the kernel version the connection believes it talks to
	// (the zero Release: the running kernel's).
	Release sockdiag.Release
	// Requests records every request received, in order, but the probes:
	// requests that cannot select any socket (an empty dump, a destroy of
	// port 0 at both ends), which a Conn sends to learn what the kernel can
	// do. Probes counts those.
	Requests []sockdiag.Request
	Probes   int
	// Sends counts the sendmsg calls: round trips, not requests.
	Sends int
	// Lose, when set, says which sockets' destroys lose their answers: the
	// kernel acts on every request of the sendmsg that carries one, and the
	// reader gets ENOBUFS instead of their answers, as when the receive
	// buffer overflowed.
	Lose func(s sockdiag.Socket) bool
	// Answered records the kernel's answer to each destroy it was sent, by
	// the request's cookie: 0 for one it destroyed; Lost, the destroys whose
	// answers Lose lost.
	Answered map[sockdiag.Cookie]unix.Errno
	Lost     map[sockdiag.Cookie]bool

	mu sync.Mutex // the fake serves several netlink sockets at once
}

// Conn returns a sockdiag connection to the fake, which may open more
// connections to it to dump and destroy in parallel.
func (k *Kernel) Conn() *sockdiag.Conn {
	return sockdiag.NewConn(k.dial(), func() (sockdiag.Wire, error) { return k.dial(), nil }, k.Release)
}

// dial makes one netlink socket to the fake, with its own answer queue.
func (k *Kernel) dial() *Wire { return NewWire(k.Serve) }

// Serve answers the requests of one sendmsg with the datagrams the kernel
// would send, for a Wire of a test's own making (NewWire).
func (k *Kernel) Serve(reqs []netlink.Message) [][]netlink.Message {
	// As netlink_rcv_skb: the requests before a destroy of a socket whose
	// lock is held are acted on, then that one waits for the lock, and the
	// rest wait behind it.
	stuck := k.stuckAt(reqs)
	k.mu.Lock()
	k.Sends++
	queue := k.serve(reqs[:stuck])
	k.mu.Unlock()
	if stuck == len(reqs) {
		return queue
	}
	<-k.Unstick
	k.mu.Lock()
	defer k.mu.Unlock()
	return append(queue, k.serve(reqs[stuck:])...)
}

// serve answers requests with the datagrams the kernel would send.
func (k *Kernel) serve(reqs []netlink.Message) [][]netlink.Message {
	var queue [][]netlink.Message
	lost := false
	for _, m := range reqs {
		var r sockdiag.Request
		if err := r.UnmarshalBinary(m.Data); err != nil {
			queue = append(queue, []netlink.Message{ack(m, unix.EINVAL)})
			continue
		}
		if IsProbe(r) {
			k.Probes++
		} else {
			k.Requests = append(k.Requests, r)
		}
		switch {
		case slices.Contains(k.NoDiag, r.Protocol):
			queue = append(queue, []netlink.Message{ack(m, unix.ENOENT)})
		case r.MPTCP && (k.NoMPTCPDiag || m.Header.Flags&netlink.Dump == 0):
			queue = append(queue, []netlink.Message{ack(m, unix.ENOENT)})
		case r.MPTCP:
			queue = append(queue, k.dumpOf(m, r, k.MPTCP, func(s sockdiag.Socket) bool { return s.Family == r.Family && r.States.Has(s.State) })...)
		case m.Header.Type == sockDiagByFamily && m.Header.Flags&netlink.Dump == 0:
			queue = append(queue, []netlink.Message{k.lookupOne(m, r)})
		case m.Header.Type == sockDiagByFamily:
			queue = append(queue, k.dump(m, r)...)
		case m.Header.Type == sockDestroy:
			if i := k.lookup(r); i >= 0 && k.Lose != nil && k.Lose(k.Sockets[i]) {
				lost = true
			}
			// As netlink_rcv_skb: a success is answered only when the
			// request asked for an ack; an error always.
			errno := k.destroy(r)
			if k.Answered == nil {
				k.Answered = map[sockdiag.Cookie]unix.Errno{}
			}
			k.Answered[r.ID.Cookie] = errno
			if errno != 0 || m.Header.Flags&netlink.Acknowledge != 0 {
				queue = append(queue, []netlink.Message{ack(m, errno)})
			}
		default:
			queue = append(queue, []netlink.Message{ack(m, unix.EOPNOTSUPP)})
		}
	}
	if lost {
		for _, m := range reqs {
			var r sockdiag.Request
			if m.Header.Type == sockDestroy && r.UnmarshalBinary(m.Data) == nil {
				if k.Lost == nil {
					k.Lost = map[sockdiag.Cookie]bool{}
				}
				k.Lost[r.ID.Cookie] = true
			}
		}
		return [][]netlink.Message{nil} // a lost datagram: the read fails
	}
	return queue
}

func (k *Kernel) dump(m netlink.Message, r sockdiag.Request) [][]netlink.Message {
	groups, tested := cgroupConds(r.Bytecode)
	if tested && k.NoCgroupCond {
		return [][]netlink.Message{{ack(m, unix.EINVAL)}}
	}
	return k.dumpOf(m, r, k.Sockets, func(s sockdiag.Socket) bool {
		return s.Family == r.Family && s.Protocol == r.Protocol && r.States.Has(s.State) &&
			(r.ID.Local.Port() == 0 || r.ID.Local.Port() == s.ID.Local.Port()) &&
			(r.ID.Remote.Port() == 0 || r.ID.Remote.Port() == s.ID.Remote.Port()) &&
			(!tested || slices.Contains(groups, k.Cgroups[s.ID.Cookie]))
	})
}

// dumpOf answers a dump with the sockets of table that match selects.
func (k *Kernel) dumpOf(m netlink.Message, r sockdiag.Request, table []sockdiag.Socket, selects func(sockdiag.Socket) bool) [][]netlink.Message {
	var queue [][]netlink.Message
	batch := max(k.DumpBatch, 1)
	if k.DumpBatch == 0 {
		batch = 2
	}
	var d []netlink.Message
	for _, s := range table {
		if !selects(s) {
			continue
		}
		b, err := s.MarshalBinary()
		if err != nil {
			panic(err)
		}
		if r.Ext&(1<<(inetDiagInfo-1)) != 0 {
			b = append(b, k.attrs(s)...)
		}
		if id, ok := k.Cgroups[s.ID.Cookie]; ok {
			b = binary.NativeEndian.AppendUint16(b, 4+8)
			b = binary.NativeEndian.AppendUint16(b, inetDiagCgroupID)
			b = binary.NativeEndian.AppendUint64(b, id)
		}
		d = append(d, reply(m, sockDiagByFamily, b))
		if len(d) == batch {
			queue = append(queue, d)
			d = nil
		}
	}
	return append(queue, append(d, reply(m, netlink.Done, make([]byte, 4))))
}

// cgroupConds returns the group ids a filter program's
// INET_DIAG_BC_CGROUP_COND operations test, walking its chain of "yes"
// jumps; tested is false when it has none.
func cgroupConds(prog []byte) (ids []uint64, tested bool) {
	for pos := 0; pos+4 <= len(prog) && prog[pos+1] > 0; pos += int(prog[pos+1]) {
		if prog[pos] == bcCgroupCond && pos+12 <= len(prog) {
			ids = append(ids, binary.NativeEndian.Uint64(prog[pos+4:]))
			tested = true
		}
	}
	return ids, tested
}

// lookupOne answers a request for one socket, by its sockid and cookie, as
// inet_diag_cmd_exact does: the socket, or ENOENT.
func (k *Kernel) lookupOne(m netlink.Message, r sockdiag.Request) netlink.Message {
	i := k.lookup(r)
	if i < 0 {
		return ack(m, unix.ENOENT)
	}
	b, err := k.Sockets[i].MarshalBinary()
	if err != nil {
		panic(err)
	}
	return netlink.Message{Header: netlink.Header{Type: sockDiagByFamily, Sequence: m.Header.Sequence, PID: m.Header.PID}, Data: b}
}

func (k *Kernel) destroy(r sockdiag.Request) unix.Errno {
	if k.NoDestroy {
		return unix.EOPNOTSUPP
	}
	i := k.lookup(r)
	if i < 0 {
		return unix.ENOENT
	}
	if s := k.Sockets[i]; s.State == sockdiag.Listen && k.ULP[s.ID.Cookie] == "mptcp" {
		return unix.EINVAL
	}
	if k.DestroyErr != nil {
		if errno := k.DestroyErr(k.Sockets[i]); errno != 0 {
			return errno
		}
	}
	if !k.Ineffective {
		k.Sockets = slices.Delete(k.Sockets, i, i+1)
	}
	return 0
}

// lookup returns the index of the socket a destroy request reaches, by its
// tuple and then its cookie, or -1.
func (k *Kernel) lookup(r sockdiag.Request) int {
	i := slices.IndexFunc(k.Sockets, func(s sockdiag.Socket) bool {
		return s.Family == r.Family && s.Protocol == r.Protocol && s.ID == r.ID
	})
	if i < 0 || k.Reuseport == nil || k.Sockets[i].State != sockdiag.Listen {
		return i
	}
	var group []int
	for j, s := range k.Sockets {
		if s.Family == r.Family && s.Protocol == r.Protocol && s.State == sockdiag.Listen && s.ID.Local == r.ID.Local {
			group = append(group, j)
		}
	}
	if group[k.Reuseport(len(group))] != i {
		return -1 // a sibling, whose cookie differs
	}
	return i
}

// attrs are the attributes a dump that asks for INET_DIAG_INFO carries
// after the socket's inet_diag_msg: here only INET_DIAG_ULP_INFO, for a
// socket with a ULP, nested as tcp_diag_put_ulp nests it (without
// NLA_F_NESTED).
func (k *Kernel) attrs(s sockdiag.Socket) []byte {
	name := k.ULP[s.ID.Cookie]
	if name == "" {
		return nil
	}
	inner := netlink.NewAttributeEncoder()
	inner.String(inetULPInfoName, name)
	if flags, ok := k.SubflowFlags[s.ID.Cookie]; ok {
		inner.Nested(inetULPInfoMPTCP, func(ae *netlink.AttributeEncoder) error {
			if token, ok := k.SubflowTokens[s.ID.Cookie]; ok {
				ae.Uint32(mptcpSubflowAttrTokenLoc, token)
			}
			ae.Uint32(mptcpSubflowAttrFlags, flags)
			return nil
		})
	}
	nested, err := inner.Encode()
	if err != nil {
		panic(err)
	}
	outer := netlink.NewAttributeEncoder()
	outer.Bytes(inetDiagULPInfo, nested)
	b, err := outer.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// AnswerTo returns the answer to the destroy of the socket with cookie c,
// and whether it was sent; safe while a sendmsg is held (Stuck).
func (k *Kernel) AnswerTo(c sockdiag.Cookie) (unix.Errno, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	errno, sent := k.Answered[c]
	return errno, sent
}

// stuckAt returns the index of the first destroy among reqs of a socket
// whose lock is held, or len(reqs).
func (k *Kernel) stuckAt(reqs []netlink.Message) int {
	if k.Stuck == nil {
		return len(reqs)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for n, m := range reqs {
		var r sockdiag.Request
		if m.Header.Type != sockDestroy || r.UnmarshalBinary(m.Data) != nil {
			continue
		}
		i := slices.IndexFunc(k.Sockets, func(s sockdiag.Socket) bool { return s.ID == r.ID })
		if i >= 0 && k.Stuck(k.Sockets[i]) {
			return n
		}
	}
	return len(reqs)
}

// IsProbe reports whether a request can select no socket: a dump of no
// state, or a destroy of port 0 at both ends.
func IsProbe(r sockdiag.Request) bool {
	return r.States == 0 && r.ID.Local.Port() == 0 && r.ID.Remote.Port() == 0
}

// The message types, as the kernel numbers them.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	sockDestroy      = 21 // SOCK_DESTROY

	inetDiagInfo     = 2  // INET_DIAG_INFO
	inetDiagULPInfo  = 19 // INET_DIAG_ULP_INFO
	inetULPInfoName  = 1  // INET_ULP_INFO_NAME
	inetULPInfoMPTCP = 3  // INET_ULP_INFO_MPTCP

	mptcpSubflowAttrTokenLoc = 2  // MPTCP_SUBFLOW_ATTR_TOKEN_LOC
	mptcpSubflowAttrFlags    = 8  // MPTCP_SUBFLOW_ATTR_FLAGS
	inetDiagCgroupID         = 21 // INET_DIAG_CGROUP_ID

	bcCgroupCond = 13 // INET_DIAG_BC_CGROUP_COND
)

func reply(req netlink.Message, typ netlink.HeaderType, data []byte) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}
}

// ack is an NLMSG_ERROR answer: the negative errno (0 for success) and the
// request's header, as with NETLINK_CAP_ACK.
func ack(req netlink.Message, errno unix.Errno) netlink.Message {
	b := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	hdr, _ := netlink.Message{Header: req.Header}.MarshalBinary()
	return netlink.Message{
		Header: netlink.Header{Type: netlink.Error, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   append(b, hdr[:16]...),
	}
}
