package sockfd

import (
	"errors"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// The causes of the engine's answers; each is a refusal.
var (
	// ErrNoHolder: the socket has no descriptor in any process (a
	// TIME-WAIT socket, one its application closed), which is all the fd
	// engine reaches a socket through.
	ErrNoHolder error = sockdiag.NewRefusal(
		"no process holds it, and the fd engine reaches a socket only through a process's descriptor",
		"some sockets are held by no process (TIME-WAIT, or closed by their application), and the fd engine reaches a socket only through a process's descriptor; SOCK_DESTROY (the diag engine) destroys them where the kernel has it",
	)
	// ErrHoldersUnknown: no process was found to hold the socket, and the
	// open files of some processes could not be read.
	ErrHoldersUnknown error = sockdiag.NewRefusal(
		"the processes that hold it could not be read (CAP_SYS_PTRACE)",
		"the processes that hold some sockets could not be read: reading another user's open files, and taking a socket from its process, needs CAP_SYS_PTRACE (try sudo)",
	)
	// ErrPtrace: pidfd_getfd refused (EPERM): taking a descriptor from
	// another process needs ptrace rights over it.
	ErrPtrace error = sockdiag.NewRefusal(
		"taking it from its process needs CAP_SYS_PTRACE",
		"taking a socket from the process that holds it (pidfd_getfd) needs CAP_SYS_PTRACE, or ptrace rights over the process as its own user (kernel.yama.ptrace_scope); try sudo",
	)
	// ErrBlocked: connect(AF_UNSPEC) answered EBUSY: a thread of the
	// process waits on the socket (in recv, send or connect), and the kernel
	// will not disconnect it under that thread. Linux 6.6-rc refused so
	// (sk_wait_pending); the kernels since disconnect it and wake the
	// thread with an error.
	ErrBlocked error = sockdiag.NewRefusal(
		"a thread of its process is blocked on it, so the kernel will not disconnect it",
		"some sockets have a thread of their process blocked on them (in recv, send or connect), and the kernel will not disconnect a socket under a waiting thread; stopping their application ends them, and SOCK_DESTROY (the diag engine) destroys them where the kernel has it",
	)
)

// ErrSubflowsOutside: the target is a subflow of an MPTCP connection
// that has more subflows than the targets name: closing the connection at
// its MPTCP socket would close those too.
var ErrSubflowsOutside error = sockdiag.NewRefusal(
	"its MPTCP connection has subflows the selection does not take in, which closing the connection would close too",
	"some sockets are subflows of MPTCP connections that have other subflows the selection does not take in; closing such a connection closes every subflow of it, so select them all (the server's port, which they share, selects them)",
)

// errUnheld is the answer for a target whose holders, each tried, no
// longer hold it: they exited or closed it, or the descriptor is another
// socket now. A look-up tells whether it is gone or left unheld.
var errUnheld = errors.New("no process holds it now")
