package host

import (
	"fmt"
	"strconv"
	"strings"
)

// A SocketCount is what /proc/net/sockstat and /proc/net/sockstat6 count of
// the sockets of tcpreap's network namespace: the kernel keeps these counts
// as sockets come and go, so reading them costs nothing like a dump.
type SocketCount struct {
	TCP      int // IPv4 and IPv6 TCP sockets in the tables, TIME_WAIT aside
	TCP6     int // of which IPv6 ones (v4-mapped too)
	TimeWait int // timewait sockets, of both families
	UDP      int // IPv4 and IPv6 UDP sockets
}

// sockstatLimit bounds the read of one sockstat file (a few lines).
const sockstatLimit = 4 << 10

// CountSockets reads the counts of the calling thread's network namespace
// (Namespace.Do: another's).
func CountSockets() (SocketCount, error) {
	var c SocketCount
	for _, name := range []string{"sockstat", "sockstat6"} {
		b, err := readSmall(procRoot+"/thread-self/net/"+name, sockstatLimit)
		if err != nil {
			return SocketCount{}, err
		}
		for line := range strings.Lines(string(b)) {
			proto, fields, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(fields)
			for i := 0; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(f[i+1])
				if err != nil {
					continue
				}
				switch {
				case (proto == "TCP" || proto == "TCP6") && f[i] == "inuse":
					c.TCP += n
					if proto == "TCP6" {
						c.TCP6 += n
					}
				case proto == "TCP" && f[i] == "tw":
					c.TimeWait += n
				case (proto == "UDP" || proto == "UDP6") && f[i] == "inuse":
					c.UDP += n
				}
			}
		}
	}
	return c, nil
}

// LocalPortRange reads net.ipv4.ip_local_port_range of tcpreap's network
// namespace: the ports outgoing connections take (IPv6 ones too).
func LocalPortRange() ([2]uint16, error) {
	b, err := readSmall(procRoot+"/sys/net/ipv4/ip_local_port_range", sockstatLimit)
	if err != nil {
		return [2]uint16{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return [2]uint16{}, fmt.Errorf("ip_local_port_range reads %q, not two ports", b)
	}
	var r [2]uint16
	for i, w := range f {
		n, err := strconv.ParseUint(w, 10, 16)
		if err != nil {
			return [2]uint16{}, fmt.Errorf("ip_local_port_range: %q is no port", w)
		}
		r[i] = uint16(n)
	}
	return r, nil
}

// Sysctls reads the given settings of /proc/sys/net ("ipv4.tcp_fin_timeout")
// in tcpreap's network namespace; one that does not exist is left out.
func Sysctls(names ...string) map[string]string {
	out := map[string]string{}
	for _, name := range names {
		b, err := readSmall(procRoot+"/sys/net/"+strings.ReplaceAll(name, ".", "/"), sockstatLimit)
		if err == nil {
			out[name] = strings.TrimSpace(string(b))
		}
	}
	return out
}

// netstatLimit bounds the read of /proc/net/netstat (a few kilobytes).
const netstatLimit = 64 << 10

// TCPExtCounters reads the given counters of the TcpExt lines of
// /proc/net/netstat ("TCPChallengeACK") in the calling thread's network
// namespace (Namespace.Do: another's); one the kernel does not have is left
// out.
func TCPExtCounters(names ...string) (map[string]uint64, error) {
	b, err := readSmall(procRoot+"/thread-self/net/netstat", netstatLimit)
	if err != nil {
		return nil, err
	}
	return tcpExt(string(b), names), nil
}

// tcpExt reads the counters names of netstat's text: a TcpExt line of
// names, then a TcpExt line of their values.
func tcpExt(text string, names []string) map[string]uint64 {
	out := map[string]uint64{}
	var keys []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if keys == nil {
			keys = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i >= len(keys) {
				break
			}
			for _, n := range names {
				if keys[i] == n {
					if x, err := strconv.ParseUint(v, 10, 64); err == nil {
						out[n] = x
					}
				}
			}
		}
		break
	}
	return out
}
