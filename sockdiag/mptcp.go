package sockdiag

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// An MPTCP connection is a socket of its own (IPPROTO_MPTCP) over TCP
// subflows, and the subflows dump as TCP sockets whose ULP is "mptcp". A
// SOCK_DESTROY of a subflow resets it and leaves the MPTCP connection
// ESTABLISHED, its application blocked, unless the connection fell back to
// plain TCP at its start: then the error reaches the application. The MPTCP
// socket itself cannot be destroyed (mptcp_diag has no destroy).

// mptcpSysctl is there in every network namespace of a kernel with MPTCP.
const mptcpSysctl = "/proc/sys/net/mptcp"

// subflowStates are the states an MPTCP subflow can be in: a listener's
// destroy is refused already (ErrMPTCPListener), and timewait and request
// sockets carry no ULP.
const subflowStates = AllStates &^ (1<<Listen | 1<<TimeWait | 1<<SynRecv)

// MaySubflow reports whether s may be an MPTCP subflow, by its protocol
// and state: only such targets call for MPTCPSubflows.
func (s *Socket) MaySubflow() bool {
	return s.Protocol == inet.TCP && subflowStates.Has(s.State)
}

// MPTCPSubflows returns the TCP sockets that are subflows of MPTCP
// connections whose peer speaks MPTCP (see speaksMPTCP), by cookie, each
// with the token of its MPTCP connection (MPTCP_SUBFLOW_ATTR_TOKEN_LOC):
// destroying a subflow would leave its connection open, and the token
// names the MPTCP socket that can close it. It costs one dump of the MPTCP
// connections per family, which walks MPTCP's token table only; and where
// there is one, a dump of the TCP sockets that may be subflows with
// INET_DIAG_INFO (a struct tcp_info each), which brings their ULP along. A
// kernel without MPTCP's diag (before Linux 5.9, or built without
// CONFIG_INET_MPTCP_DIAG) has none to show: nil; a kernel without MPTCP at
// all is not asked (the kernel would run modprobe for its diag each time).
// f, the filter the targets were dumped with, narrows the TCP dump to the
// sockets it takes in, so that a lock held on a socket that is no target
// holds nothing; nil dumps every TCP socket.
func (c *Conn) MPTCPSubflows(ctx context.Context, f *Filter) (map[Cookie]uint32, error) {
	if _, err := os.Stat(mptcpSysctl); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	some := false
	for _, fam := range []inet.Family{inet.IPv4, inet.IPv6} {
		err := c.dump(ctx, Request{Family: fam, MPTCP: true, States: AllStates &^ (1 << Listen)}, func(*Socket, []byte) bool {
			some = true
			return false
		})
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP):
			return nil, nil
		case err != nil:
			return nil, err
		}
		if some {
			break
		}
	}
	if !some {
		return nil, nil
	}
	return c.subflows(ctx, c.subflowDumps(f))
}

// subflowDumps are the TCP dumps, with INET_DIAG_INFO, of the sockets that
// may be subflows among those f takes in (every one when f is nil): f's
// program and port prefilter, which the kernel tests before it takes a
// socket's lock for its tcp_info; every state a subflow can be in, as a
// target may have moved on since its dump.
func (c *Conn) subflowDumps(f *Filter) []Request {
	var reqs []Request
	if f == nil {
		for _, fam := range []inet.Family{inet.IPv4, inet.IPv6} {
			reqs = append(reqs, Request{Family: fam, Protocol: inet.TCP})
		}
	} else {
		for _, d := range f.dumps(c.cgroupCond() && len(f.Cgroups) > 0) {
			if d.Protocol == inet.TCP && !d.never {
				reqs = append(reqs, d.Request)
			}
		}
	}
	for i := range reqs {
		reqs[i].States, reqs[i].Ext = subflowStates, 1<<(inetDiagInfo-1)
	}
	return reqs
}

// ErrSubflowsHeld is the cause of a look for MPTCP subflows the kernel did
// not answer in time.
var ErrSubflowsHeld = &Cause{
	short: "cannot tell which sockets are MPTCP subflows: a socket's lock is held",
	sentence: "the kernel did not say within 10 seconds which TCP sockets are MPTCP subflows: a socket's lock is held, most likely by its application, " +
		"stuck in the kernel (in a send on a hung NFS or FUSE file?), and that look waits for it; nothing was destroyed; " +
		"tcpreap cannot free it, and its process ends only when the kernel lets that thread go",
}

// subflows dumps the TCP sockets that may be subflows, with INET_DIAG_INFO,
// on a socket of its own, within stuckTimeout: the kernel fills a socket's
// struct tcp_info under its lock (tcp_get_info), so a lock an application
// holds holds the dump, in the kernel, where no deadline reaches it. Then
// the socket is left to the thread the kernel holds, and the answer is
// ErrSubflowsHeld.
func (c *Conn) subflows(ctx context.Context, reqs []Request) (map[Cookie]uint32, error) {
	nl, err := c.dialFresh()
	if err != nil {
		return nil, err
	}
	type answer struct {
		subflows map[Cookie]uint32
		err      error
	}
	done := make(chan answer, 1)
	go func() {
		subflows := map[Cookie]uint32{}
		for _, req := range reqs {
			err := c.dumpOn(ctx, nl, req, func(s *Socket, attrs []byte) bool {
				var a msgAttrs
				if a.UnmarshalBinary(attrs) == nil && a.speaksMPTCP() {
					subflows[s.ID.Cookie] = a.SubflowToken
				}
				return true
			})
			if err != nil {
				done <- answer{nil, err}
				return
			}
		}
		done <- answer{subflows, nil}
	}()
	watchdog := time.NewTimer(stuckTimeout)
	defer watchdog.Stop()
	select {
	case a := <-done:
		nl.Close()
		return a.subflows, a.err
	case <-watchdog.C:
		return nil, ErrSubflowsHeld
	}
}
