package sockdiag

import (
	"context"
	"errors"
	"sync"

	"github.com/tcpreap/tcpreap/inet"
)

// Doubtful reports whether the kernel's answer to the destroy of s (err as
// Destroy returned it) may not be what happened, so that only a second look
// can tell:
//
//   - no answer was read (ErrNoAnswer);
//   - ENOENT for a LISTEN socket: the kernel finds a listener by its tuple,
//     and in an SO_REUSEPORT group it may have found a sibling; for a
//     socket bound to a device: the kernel's lookup by tuple takes an
//     unbound socket with the same four-tuple first, whose cookie differs;
//     and for any UDP socket: __udp_diag_destroy looks the tuple up first,
//     and of two connected twins on one four-tuple (SO_REUSEADDR) it may
//     find the other;
//   - 0 for a full TCP socket on a kernel that does not destroy orphans
//     (closed by their application, the kernel finishing the close): before
//     Linux 6.11 tcp_abort answered 0 and left them, and any socket may have
//     been orphaned since it was dumped. Where the release is older, a
//     probe tells whether the fix was backported (DestroysOrphans).
//
// Every other answer is the truth: the cookie makes the lookup exact, and
// the kernel answers only after it acted.
func (c *Conn) Doubtful(ctx context.Context, s *Socket, err error) bool {
	switch {
	case errors.Is(err, ErrNoAnswer):
		return true
	case errors.Is(err, ErrGone):
		return s.State == Listen || s.ID.Interface != 0 || s.Protocol == inet.UDP
	case err != nil:
		return false
	}
	// Any full TCP socket may have been orphaned since it was dumped (its
	// application closed it meanwhile), not only one dumped without an inode.
	return s.Protocol == inet.TCP && !s.IsTimeWait() && s.State != SynRecv && !c.DestroysOrphans(ctx)
}

// DestroysOrphans reports whether this kernel destroys an orphaned TCP
// socket when asked (Linux 6.11 fixed tcp_abort, which had answered 0 and
// left a SOCK_DEAD socket alone). On an older release it finds out once per
// Conn, by destroying an orphan of its own on the loopback interface of the
// calling thread's network namespace; where that cannot be done (no
// loopback, a Conn of another namespace) it answers false, and the caller
// looks again.
func (c *Conn) DestroysOrphans(ctx context.Context) bool {
	if c.release.AtLeast(6, 11) {
		return true
	}
	c.orphanOnce.Do(func() { c.orphans = c.netns == 0 && c.probeOrphan(ctx) == nil })
	return c.orphans
}

// orphanProbe is the memo of DestroysOrphans.
type orphanProbe struct {
	orphanOnce sync.Once
	orphans    bool
}
