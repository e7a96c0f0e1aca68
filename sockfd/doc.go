// Package sockfd is the fd engine: it destroys a socket through a
// descriptor of a process that holds it, taken with pidfd_getfd (Linux
// 5.6), checked by its cookie, and disconnected with connect(AF_UNSPEC)
// (a listener is shut down). It is a kill.Engine: a plan executes with it
// as with SOCK_DESTROY's (sockdiag.Conn), verified the same way, and it
// reaches what SOCK_DESTROY cannot where the kernel lacks it. Sockets no
// process holds (TIME-WAIT, orphans) are out of its reach, and its answer
// says so.
package sockfd
