package inet

import "fmt"

// A Protocol is a transport protocol, by its IP protocol number: a socket's
// (the protocol of the dump it came from) or a conntrack tuple's.
type Protocol uint8

// The protocols tcpreap selects; others (ICMP, SCTP…) are never selected.
const (
	TCP Protocol = 6  // IPPROTO_TCP
	UDP Protocol = 17 // IPPROTO_UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto%d", uint8(p))
}

// A Family is an address family, by Linux's number (AF_INET6 is 30 on
// Darwin: these are the kernel's, whatever the OS that builds tcpreap).
type Family uint8

// The address families.
const (
	IPv4 Family = 2  // AF_INET
	IPv6 Family = 10 // AF_INET6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("family%d", uint8(f))
}
