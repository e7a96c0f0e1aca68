// Package sockbpf destroys sockets by cookie with BPF socket iterators: a
// TCP and a UDP iterator (iter/tcp, iter/udp) walk the sockets of the
// calling thread's network namespace and call the bpf_sock_destroy kfunc
// (Linux 6.5) for each socket whose cookie is one of the targets, and each
// target gets its own answer. It reaches sockets where SOCK_DESTROY cannot:
// a kernel built without CONFIG_INET_DIAG_DESTROY still has the kfunc.
//
// What it never destroys, whatever it is given: an unconnected UDP socket
// (it serves every peer), and a TIME-WAIT or SYN-RECV socket, which is not a
// full socket: bpf_sock_destroy casts its argument to one and reads a field
// that such a socket does not have.
//
// The programs are compiled from destroy.bpf.c and embedded (make generate
// rebuilds them with clang); loading them needs the kernel's BTF and
// CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN. Probe says whether this host
// offers them, and why not.
package sockbpf
