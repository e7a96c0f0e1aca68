package host

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// A tuple is a TCP socket's two ends, as /proc/net/tcp shows them.
type tuple struct{ Local, Remote netip.AddrPort }

// tcpTableLimit bounds one line of /proc/net/tcp{,6}.
const tcpTableLimit = 512

// TCPEnds returns the local and remote ends of the TCP sockets of the
// network namespace tcpreap runs in whose inodes are in inodes, from
// /proc/net/tcp and /proc/net/tcp6 (IPv4 unmapped): the connections of
// sockets known only by inode (an SSH server's), for what has no inode (a
// conntrack entry). It reads both tables whole.
func TCPEnds(inodes map[uint32]bool) (map[uint32][2]netip.AddrPort, error) {
	out := map[uint32][2]netip.AddrPort{}
	if len(inodes) == 0 {
		return out, nil
	}
	tuples, err := tcpTuples()
	for ino, t := range tuples {
		if inodes[ino] {
			out[ino] = [2]netip.AddrPort{t.Local, t.Remote}
		}
	}
	return out, err
}

// tcpTuples returns the ends of the TCP sockets of the network namespace
// tcpreap runs in, by inode, from /proc/net/tcp and /proc/net/tcp6 (IPv4
// unmapped). It reads both tables whole: it is for the rare case that needs
// it (an SSH session that came over one of this host's own addresses).
func tcpTuples() (map[uint32]tuple, error) {
	out := map[uint32]tuple{}
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(procRoot + "/net/" + name)
		if err != nil {
			return out, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, tcpTableLimit), tcpTableLimit)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[0] == "sl" {
				continue
			}
			local, err1 := parseProcAddr(fields[1])
			remote, err2 := parseProcAddr(fields[2])
			ino, err3 := strconv.ParseUint(fields[9], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || ino == 0 {
				continue
			}
			out[uint32(ino)] = tuple{local, remote}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return out, fmt.Errorf("%s/net/%s: %w", procRoot, name, err)
		}
	}
	return out, nil
}

// parseProcAddr reads "0100007F:0016": the address as the kernel's 32-bit
// words in host order, in hex, then the port.
func parseProcAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(a)
	port, perr := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || perr != nil || len(raw)%4 != 0 {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	addr, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address", s)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
