// Package sockpacket is the packet engine: it resets TCP connections with
// forged segments, as killcx does for a local socket and cutter for a
// connection a router forwards. Each end is provoked into showing its
// sequence numbers (a SYN to a synchronized socket is answered with a
// challenge ACK, RFC 5961 4.2, carrying its snd_nxt and rcv_nxt), its
// answer is read on an AF_PACKET socket whose classic BPF filter passes the
// planned tuples alone, and it is sent a RST with the sequence number it
// expects, from the other end's address as it sees it.
//
// It needs CAP_NET_RAW in the network namespace it sends from, and no
// kernel feature beyond packet sockets: it reaches what SOCK_DESTROY
// cannot where a kernel lacks it, and orphaned sockets whose peer still
// answers. An end that does not answer (its peer gone, its answers lost,
// or swallowed by tcp_challenge_ack_limit or tcp_invalid_ratelimit within
// the wait) is reported, never reset blindly.
package sockpacket
