package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Interface returns the index and addresses of the network interface name in
// the network namespace tcpreap runs in.
func Interface(name string) (index uint32, addrs []netip.Addr, err error) {
	if name == "" {
		return 0, nil, errors.New("the interface name is empty")
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, nil, &NoInterfaceError{Name: name}
	}
	as, err := ifi.Addrs()
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read the addresses of %s: %w", name, err)
	}
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			addrs = append(addrs, p.Addr())
		}
	}
	return uint32(ifi.Index), addrs, nil
}

// A NoInterfaceError is an interface name that no interface of a network
// namespace has.
type NoInterfaceError struct {
	Name  string
	NetNS string // the namespace's label; "" for the one tcpreap runs in
}

func (e *NoInterfaceError) Error() string {
	if e.NetNS == "" {
		return fmt.Sprintf("no interface named %q in this network namespace (see ip link)", e.Name)
	}
	return fmt.Sprintf("no interface named %q in network namespace %s", e.Name, e.NetNS)
}

// InterfaceName returns the name of the interface with the given index in
// the network namespace tcpreap runs in, or "" when there is none (it went
// away, or it is another namespace's).
func InterfaceName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return ""
}
