// Package host is this machine as /proc, /etc and the resolver show it: the
// boot and the network namespace tcpreap runs in (what a plan file is tied
// to), the process ancestry and the SSH connection it runs under, the
// services database, interfaces and host names. It knows nothing of netlink
// or plans; every read has a bound, in size or in time.
package host
