package sockbpf

import (
	"errors"
	"fmt"
)

// Why the bpf engine cannot run on this host: an UnavailableError wraps one
// of these, so callers write errors.Is(err, sockbpf.ErrNoPrivilege).
var (
	// ErrKernelTooOld: the kernel has no bpf_sock_destroy kfunc or no TCP or
	// UDP socket iterator (Linux 6.5 has both).
	ErrKernelTooOld = errors.New("the bpf engine needs Linux 6.5 or later (the bpf_sock_destroy kfunc and the TCP and UDP socket iterators)")
	// ErrNoBTF: the kernel publishes no BTF (/sys/kernel/btf/vmlinux),
	// which the loader needs to find the kfunc and the socket fields.
	ErrNoBTF = errors.New("the bpf engine needs the kernel's BTF, /sys/kernel/btf/vmlinux (a kernel built with CONFIG_DEBUG_INFO_BTF)")
	// ErrNoPrivilege: loading the programs needs CAP_BPF and CAP_PERFMON,
	// or CAP_SYS_ADMIN.
	ErrNoPrivilege = errors.New("the bpf engine needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (try sudo)")
)

// An UnavailableError says why this host cannot run the bpf engine: Why is
// ErrKernelTooOld, ErrNoBTF or ErrNoPrivilege, Err what the kernel or the
// loader answered.
type UnavailableError struct {
	Why error
	Err error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return e.Why.Error()
	}
	return fmt.Sprintf("%v: %v", e.Why, e.Err)
}

func (e *UnavailableError) Unwrap() []error { return []error{e.Why, e.Err} }

// What one target's answer wraps when the engine left it alone.
var (
	// ErrNotFound: no socket of the namespace had the cookie while the
	// iterators walked it: it closed, or it lives in another namespace.
	ErrNotFound = errors.New("no socket of this network namespace has this cookie: it closed")
	// ErrUnconnected: an unconnected UDP socket serves every peer, and the
	// engine never destroys one.
	ErrUnconnected = errors.New("an unconnected UDP socket serves every peer: the bpf engine never destroys one")
	// ErrNotFullSocket: a TIME-WAIT socket or a SYN-RECV request is not a
	// full socket, which bpf_sock_destroy needs.
	ErrNotFullSocket = errors.New("a TIME-WAIT or SYN-RECV socket is not a full socket, which bpf_sock_destroy cannot take")
)
