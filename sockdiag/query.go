package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// Query streams every socket the filter selects: one dump per (protocol,
// family) with the kernel's state mask, port prefilter and filter program,
// and every answer checked again with Match, in the order of the dumps
// (see dumps). It stops at the first error.
//
// WithTCPInfo hands over what struct tcp_info says of each socket.
//
// A kernel that refuses the cgroup operation of the filter program (EINVAL:
// built without CONFIG_SOCK_CGROUP_DATA) is asked again without it, and
// then Match alone checks the cgroups, for this query and the Conn's next.
func (c *Conn) Query(ctx context.Context, f *Filter, opts ...QueryOption) iter.Seq2[Socket, error] {
	var o queryOptions
	for _, opt := range opts {
		opt(&o)
	}
	info := o.info
	return func(yield func(Socket, error) bool) {
		requests := func(cgroupCond bool) []Request {
			var reqs []Request
			for _, d := range f.dumps(cgroupCond) {
				if !d.never {
					reqs = append(reqs, d.Request)
				}
			}
			return reqs
		}
		keep := f.MatchInfo
		if f.WithInfo && info != nil {
			keep = func(s *Socket, attrs []byte) bool {
				if !f.MatchInfo(s, attrs) {
					return false
				}
				if i, ok := tcpInfoOf(attrs); ok {
					info(s, i)
				}
				return true
			}
		}
		if !c.cgroupCond() || len(f.Cgroups) == 0 {
			c.dumps(ctx, requests(false), keep, yield)
			return
		}
		// The kernel audits the program before it sends a socket: a refusal
		// is the first answer of the first dump.
		yielded, refused := false, false
		c.dumps(ctx, requests(true), keep, func(s Socket, err error) bool {
			if err != nil && !yielded && errors.Is(err, unix.EINVAL) {
				refused = true
				return false
			}
			yielded = true
			return yield(s, err)
		})
		if refused {
			c.noCgroupCond = true
			c.dumps(ctx, requests(false), keep, yield)
		}
	}
}

// A QueryOption asks a Query for more than the sockets.
type QueryOption func(*queryOptions)

type queryOptions struct {
	info func(s *Socket, info TCPInfo)
}

// WithTCPInfo gives info the struct tcp_info of each socket that a Query of
// a Filter WithInfo selects, as the dump carried it (list -e). info is
// called from several goroutines at once, and maybe twice for a socket
// whose dump was taken again.
func WithTCPInfo(info func(s *Socket, info TCPInfo)) QueryOption {
	return func(o *queryOptions) { o.info = info }
}

// cgroupCond reports whether the kernel's filter program can test a
// socket's cgroup (INET_DIAG_BC_CGROUP_COND): from Linux 5.10, unless this
// kernel refused it already.
func (c *Conn) cgroupCond() bool { return c.release.AtLeast(5, 10) && !c.noCgroupCond }

// dumps runs the dumps reqs and yields the sockets keep accepts, in the
// order of reqs, and stops at the first error. Each dump walks the kernel's
// whole socket table, whatever its family and states select, so the first
// one streams on the main socket while the others run at the same time,
// each on a socket of its own (up to one per CPU, at most maxDestroyers in
// all), and hold what keep accepted until their turn. keep is called from
// several goroutines at once.
func (c *Conn) dumps(ctx context.Context, reqs []Request, keep func(s *Socket, attrs []byte) bool, yield func(Socket, error) bool) {
	if len(reqs) == 0 {
		return
	}
	type ahead struct {
		socks []Socket
		err   error
		done  chan struct{}
	}
	aheads := make([]*ahead, len(reqs))
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wires := c.spareWires(min(len(reqs)-1, runtime.NumCPU()-1, maxDestroyers-1))
	broken := make([]bool, len(wires))
	defer func() {
		cancel() // a caller that stopped early stops the dumps ahead
		wg.Wait()
		c.dropBroken(wires, broken)
	}()
	if len(wires) > 0 {
		next := make(chan int, len(reqs)-1)
		for i := 1; i < len(reqs); i++ {
			aheads[i] = &ahead{done: make(chan struct{})}
			next <- i
		}
		close(next)
		for w, nl := range wires {
			wg.Go(func() {
				for i := range next {
					a := aheads[i]
					if broken[w] {
						// Not on this socket any more: the main socket takes
						// it in its turn (every dump ahead must be done, or
						// the main loop would wait for it forever).
						a.err = errBrokenWire
					} else {
						a.err = c.dumpOn(wctx, nl, reqs[i], func(s *Socket, attrs []byte) bool {
							if keep(s, attrs) {
								a.socks = append(a.socks, *s)
							}
							return true
						})
						broken[w] = a.err != nil
					}
					close(a.done)
				}
			})
		}
	}
	for i, req := range reqs {
		a := aheads[i]
		if a != nil {
			select {
			case <-a.done:
			case <-ctx.Done():
				yield(Socket{}, &OpError{Op: "dump", Request: req, Err: context.Cause(ctx)})
				return
			}
		}
		if a != nil && a.err == nil {
			for _, s := range a.socks {
				if !yield(s, nil) {
					return
				}
			}
			continue
		}
		// The first dump, and any whose socket broke before its turn,
		// stream on the main socket.
		wanted := true
		err := c.dump(ctx, req, func(s *Socket, attrs []byte) bool {
			if keep(s, attrs) {
				wanted = yield(*s, nil)
			}
			return wanted
		})
		if !wanted {
			return
		}
		if err != nil {
			yield(Socket{}, err)
			return
		}
	}
}

// errBrokenWire is the error of a dump ahead whose socket broke before it.
var errBrokenWire = errors.New("the netlink socket broke")

// spareWires returns up to n of the Conn's extra sockets, opening those it
// lacks; fewer when no more can be opened.
func (c *Conn) spareWires(n int) []Wire {
	for c.dial != nil && len(c.extra) < n {
		w, err := c.dial()
		if err != nil {
			break
		}
		c.extra = append(c.extra, w)
	}
	return c.extra[:min(n, len(c.extra))]
}

// dropBroken closes the extra sockets among wires that broke and takes them
// out of the Conn's.
func (c *Conn) dropBroken(wires []Wire, broken []bool) {
	for w, nl := range wires {
		if broken[w] {
			nl.Close()
			c.extra = slices.DeleteFunc(c.extra, func(e Wire) bool { return e == nl })
		}
	}
}

// Seen is a target looked up again: the socket as the kernel shows it now,
// found by its cookie, or why it could not be looked for.
type Seen struct {
	Now     Socket // as dumped now; valid when Present
	Present bool
	Err     error // the dump of the target's (protocol, family) failed
}

// Connected reports whether a target seen after its destroy is still the
// connection it was. udp_abort disconnects a UDP socket and may leave it in
// the table, bound: that connection is gone.
func (s Seen) Connected() bool {
	return s.Present && (s.Now.Protocol != inet.UDP || s.Now.State == Established)
}

// exactLookups is how many targets at most Lookup asks for one by one; for
// more, a dump costs less.
const exactLookups = 4096

// Lookup looks the targets up again by cookie: seen[i] is for targets[i].
// A few TCP connections are asked for one by one (SOCK_DIAG_BY_FAMILY
// without NLM_F_DUMP, by sockid and cookie, batched as destroys are). Many
// targets, a LISTEN socket (whose lookup by tuple may find a sibling in an
// SO_REUSEPORT group), a socket bound to a device (an unbound one with the
// same four-tuple is found first) or a UDP socket (udp_dump_one looks the tuple up the
// other way round from udp_diag_destroy, local as remote) are found with one
// dump of every state per (protocol, family).
func (c *Conn) Lookup(ctx context.Context, targets []Socket) []Seen {
	exact := len(targets) <= exactLookups && !slices.ContainsFunc(targets, func(s Socket) bool {
		return s.State == Listen || s.Protocol != inet.TCP || s.ID.Interface != 0
	})
	if exact {
		return c.lookupExact(ctx, targets)
	}
	return c.lookupDump(ctx, targets)
}

// lookupExact asks for each target by its sockid and cookie.
func (c *Conn) lookupExact(ctx context.Context, targets []Socket) []Seen {
	seen := make([]Seen, len(targets))
	for start := 0; start < len(targets); start += batchSize {
		end := min(start+batchSize, len(targets))
		if err := ctx.Err(); err != nil {
			for i := start; i < len(targets); i++ {
				seen[i].Err = context.Cause(ctx)
			}
			break
		}
		if !c.lookupBatch(targets[start:end], seen[start:end]) {
			continue
		}
		// An answer was lost (ENOBUFS): the socket is renewed and the
		// targets not answered are asked for once more.
		c.renew()
		var again []int
		for i := start; i < end; i++ {
			if errors.Is(seen[i].Err, ErrNoAnswer) {
				again = append(again, i)
			}
		}
		retry, rseen := make([]Socket, len(again)), make([]Seen, len(again))
		for k, i := range again {
			retry[k] = targets[i]
		}
		if c.lookupBatch(retry, rseen) {
			c.renew()
		}
		for k, i := range again {
			seen[i] = rseen[k]
		}
	}
	return seen
}

// lookupBatch asks for one batch of targets on the main socket, and reports
// whether it broke.
func (c *Conn) lookupBatch(targets []Socket, seen []Seen) (broken bool) {
	bt := batches.Get().(*batch)
	defer batches.Put(bt)
	bt.reset(c.nextSeq(len(targets)))
	for i, s := range targets {
		if err := bt.add(sockDiagByFamily, 0, &Request{Family: s.Family, Protocol: s.Protocol, ID: s.ID}); err != nil {
			seen[i].Err = err
			continue
		}
		seen[i].Err = ErrNoAnswer
		bt.which = append(bt.which, i)
	}
	if bt.n == 0 {
		return false
	}
	bufp := receiveBuffers.Get().(*[]byte)
	defer receiveBuffers.Put(bufp)
	err := exchange(c.c, bt, *bufp, false, func(k int, typ uint16, payload []byte, errno error) {
		k = bt.which[k]
		switch {
		case errors.Is(errno, unix.ENOENT):
			seen[k] = Seen{}
		case errno != nil:
			seen[k].Err = &OpError{Op: "lookup", Request: Request{Family: targets[k].Family, Protocol: targets[k].Protocol, ID: targets[k].ID}, Err: errno}
		case typ != sockDiagByFamily:
			seen[k].Err = fmt.Errorf("unexpected netlink message type %d in answer to a lookup", typ)
		default:
			s := Socket{Protocol: targets[k].Protocol}
			if err := s.UnmarshalBinary(payload); err != nil {
				seen[k].Err = err
				return
			}
			seen[k] = Seen{Now: s, Present: true}
		}
	})
	var se sendError
	return err != nil && !errors.As(err, &se)
}

// lookupDump finds the targets in dumps of every state.
func (c *Conn) lookupDump(ctx context.Context, targets []Socket) []Seen {
	type dumpKey struct {
		proto inet.Protocol
		fam   inet.Family
	}
	seen := make([]Seen, len(targets))
	var order []dumpKey
	want := map[dumpKey]map[Cookie]int{}
	for i, s := range targets {
		k := dumpKey{s.Protocol, s.Family}
		if want[k] == nil {
			want[k] = map[Cookie]int{}
			order = append(order, k)
		}
		want[k][s.ID.Cookie] = i
	}
	for _, k := range order {
		// A dump that breaks (an answer lost: ENOBUFS) is taken once more,
		// on a fresh socket (Dump renews it); only a second failure leaves
		// its targets unknown.
		for attempt := 0; attempt < 2; attempt++ {
			cookies := want[k]
			for _, i := range cookies {
				seen[i] = Seen{}
			}
			var failed error
			for s, err := range c.Dump(ctx, Request{Family: k.fam, Protocol: k.proto, States: AllStates}) {
				if err != nil {
					failed = err
					break
				}
				if i, ok := cookies[s.ID.Cookie]; ok {
					seen[i] = Seen{Now: s, Present: true}
				}
			}
			if failed == nil {
				break
			}
			for _, i := range cookies {
				seen[i] = Seen{Err: failed}
			}
		}
	}
	return seen
}
