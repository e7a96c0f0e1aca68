package kill

import (
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// An Action is what became of one socket of a plan.
type Action uint8

// The actions, as the JSON "action" field names them.
const (
	WouldKill Action = iota // a dry run: it would be destroyed
	Killed                  // destroyed
	Gone                    // already closed, or replaced by another socket on its tuple
	Failed                  // the kernel refused or did not answer
	Skipped                 // a guard, or the kernel, kept it back; Reason says why
)

var actionNames = [...]string{
	WouldKill: "would_kill",
	Killed:    "killed",
	Gone:      "gone",
	Failed:    "failed",
	Skipped:   "skipped",
}

func (a Action) String() string { return actionNames[a] }

// A Result is the outcome for one socket.
type Result struct {
	Socket sockdiag.Socket
	Action Action
	Reason string // for Skipped
	Err    error  // for Failed
}

// A Summary counts the results.
type Summary struct {
	Matched, WouldKill, Killed, Gone, Failed, Skipped int
}

// Summarize counts results by action; every result is a matched socket.
func Summarize(results []Result) Summary {
	s := Summary{Matched: len(results)}
	for _, r := range results {
		switch r.Action {
		case WouldKill:
			s.WouldKill++
		case Killed:
			s.Killed++
		case Gone:
			s.Gone++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		}
	}
	return s
}

// Errors that a failed result wraps, for what the person running tcpreap
// can do about them.
var (
	// ErrPermission: SOCK_DESTROY needs CAP_NET_ADMIN in the socket's
	// network namespace (EPERM).
	ErrPermission = errors.New("destroying sockets needs CAP_NET_ADMIN in this network namespace (try sudo)")
	// ErrNoDestroy: the kernel has no SOCK_DESTROY for this protocol
	// (EOPNOTSUPP: built without CONFIG_INET_DIAG_DESTROY).
	ErrNoDestroy = errors.New("this kernel was built without CONFIG_INET_DIAG_DESTROY; sockets can be listed but not destroyed")
)

// ReasonTimeWait is the skip reason for a TIME_WAIT socket that the kernel
// will not destroy: tcp_abort learnt timewait sockets in Linux 6.0.
const ReasonTimeWait = "this kernel cannot destroy TIME_WAIT sockets (Linux 6.0 and later can)"

// timeWaitDestroyable: a kernel of 6.0 or later destroys timewait sockets,
// so its EOPNOTSUPP for one means no SOCK_DESTROY at all.
var timeWaitDestroyable = kernelAtLeast(6, 0)

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// classify turns the kernel's answer to one destroy into a result.
func classify(s sockdiag.Socket, err error) Result {
	r := Result{Socket: s, Action: Killed}
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT):
		r.Action = Gone
	case errors.Is(err, unix.EOPNOTSUPP) && s.IsTimeWait() && !timeWaitDestroyable:
		r.Action, r.Reason = Skipped, ReasonTimeWait
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		r.Action, r.Err = Failed, fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, unix.EOPNOTSUPP):
		r.Action, r.Err = Failed, fmt.Errorf("%w: %w", ErrNoDestroy, err)
	default:
		r.Action, r.Err = Failed, err
	}
	return r
}
