// Package sockdiag is tcpreap's interface to the kernel: the NETLINK_SOCK_DIAG
// wire structs (inet_diag_req_v2, inet_diag_msg, inet_diag_sockid), the
// INET_DIAG_REQ_BYTECODE compiler, the selection (Filter) that a query takes
// (in inet's words: protocols, families, ports, endpoints), and a
// connection (Conn) that streams dumps, sends batched SOCK_DESTROY requests
// by cookie and looks targets up again. probe.go is the one place for what
// this kernel can do and what its answers mean.
//
// The kernel side lives in net/ipv4/inet_diag.c, tcp_diag.c and udp_diag.c.
// Every socket a dump returns is checked again in Go against the same Filter:
// the kernel filter is a speed-up, never the only truth. The wire code and
// the Filter build on any OS; a Conn needs Linux.
package sockdiag
