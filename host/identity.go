package host

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// An Identity names where tcpreap runs: the boot (cookies count up from boot,
// so a cookie names a socket only within the boot it was dumped in) and the
// network namespace (sockets are looked up per namespace).
type Identity struct {
	BootID string // /proc/sys/kernel/random/boot_id
	NetNS  NetNS
}

// A NetNS names a network namespace as the kernel does, "net:[4026531840]":
// the inode of its nsfs file, unique while the namespace lives.
type NetNS string

const (
	bootIDFile = "/proc/sys/kernel/random/boot_id"
	netNSLink  = "/proc/self/ns/net"
)

// Here returns the identity of this boot and of the network namespace
// tcpreap runs in, read once.
func Here() (Identity, error) { return here() }

var here = sync.OnceValues(func() (Identity, error) {
	b, err := readSmall(bootIDFile, 64)
	if err != nil {
		return Identity{}, fmt.Errorf("cannot tell which boot this is: %w", err)
	}
	ns, err := os.Readlink(netNSLink)
	if err != nil {
		return Identity{}, fmt.Errorf("cannot tell which network namespace this is: %w", err)
	}
	return Identity{BootID: strings.TrimSpace(string(b)), NetNS: NetNS(ns)}, nil
})
