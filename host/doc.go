// Package host is this machine as /proc, /etc and the resolver show it: the
// boot and the network namespace tcpreap runs in (what a plan file is tied
// to), the process ancestry and the SSH connection it runs under, the
// services database, interfaces and host names. It knows nothing of netlink
// or plans; every read has a bound, in size or in time.
//
// The few /proc files read so far (a process's stat line and environment,
// the boot id, a namespace link) are parsed here by hand rather than with
// github.com/prometheus/procfs, the design's library for /proc: procfs
// reads a file whole and unbounded (Proc.Environ), where this package
// streams an environment of any size in memory bounded by one string. The
// socket-owner lookup, which reads /proc/*/fd, is where procfs is to be
// measured against the speed it needs before either is chosen.
package host
