package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// selectionFlags are the selectors both tcpreap and tcpreap list take.
func selectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "state", Usage: "states `S[,S]`: established syn_sent syn_recv fin_wait1 fin_wait2 time_wait close close_wait last_ack listen closing, or all connected synchronized bucket big (default: all but listen; UDP: connected)"},
		&cli.StringSliceFlag{Name: "port", Usage: "local or remote port `P[,P]`: number, LO-HI or service name"},
		&cli.StringSliceFlag{Name: "local-port", Aliases: []string{"sport"}, Usage: "local port `P[,P]`"},
		&cli.StringSliceFlag{Name: "remote-port", Aliases: []string{"dport"}, Usage: "remote port `P[,P]`"},
		&cli.StringSliceFlag{Name: "local", Usage: "local address, IP or CIDR (repeatable)", Config: cli.StringConfig{TrimSpace: true}},
		&cli.StringFlag{Name: "interface", Usage: "sockets on interface `IF`: bound to it, or on one of its addresses"},
		&cli.BoolFlag{Name: "tcp", Aliases: []string{"t"}, Usage: "TCP sockets (the default)"},
		&cli.BoolFlag{Name: "udp", Aliases: []string{"u"}, Usage: "UDP sockets"},
		&cli.BoolFlag{Name: "4", Usage: "IPv4 (and v4-mapped IPv6) sockets"},
		&cli.BoolFlag{Name: "6", Usage: "IPv6 sockets"},
		includeSelfFlag(),
	}
}

func includeSelfFlag() cli.Flag {
	return &cli.BoolFlag{Name: "include-self", Usage: "also destroy the ssh connection tcpreap runs in (SSH_CONNECTION)"}
}

// A selection is the parsed command line: the filter, the guards, and notes
// to show with the plan (what host names resolved to, a session that could
// not be read).
type selection struct {
	filter sockdiag.Filter
	guards kill.Guards
	notes  []string // "peer db1 is 192.0.2.2, 2001:db8::2"
}

// resolveTimeout bounds the DNS lookup of a PEER host name.
const resolveTimeout = 5 * time.Second

// parseSelection turns flags and PEER words into a selection. Every error is
// bad input: it names the word and what would be right.
func parseSelection(ctx context.Context, cmd *cli.Command) (*selection, error) {
	sel := &selection{}
	f := &sel.filter
	if cmd.Bool("tcp") {
		f.Protocols = append(f.Protocols, sockdiag.TCP)
	}
	if cmd.Bool("udp") {
		f.Protocols = append(f.Protocols, sockdiag.UDP)
	}
	if cmd.Bool("4") {
		f.Families = append(f.Families, sockdiag.IPv4)
	}
	if cmd.Bool("6") {
		f.Families = append(f.Families, sockdiag.IPv6)
	}
	protocols := f.Protocols
	if len(protocols) == 0 {
		protocols = []sockdiag.Protocol{sockdiag.TCP}
	}
	services := sockdiag.Services(sockdiag.ServicesFile, protocols)

	var named sockdiag.StateMask
	for _, w := range cmd.StringSlice("state") {
		sel, nam, err := sockdiag.ParseStates(w)
		if err != nil {
			return nil, err
		}
		f.States |= sel
		named |= nam
	}
	sel.guards.ListenNamed = named&(1<<sockdiag.Listen) != 0

	for _, p := range []struct {
		flag string
		into *[]sockdiag.PortRange
	}{{"port", &f.Ports}, {"local-port", &f.LocalPorts}, {"remote-port", &f.RemotePorts}} {
		for _, w := range cmd.StringSlice(p.flag) {
			rs, err := sockdiag.ParsePorts(w, services)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", p.flag, err)
			}
			*p.into = append(*p.into, rs...)
		}
	}
	for _, w := range cmd.StringSlice("local") {
		p, err := sockdiag.ParsePrefix(w)
		if err != nil {
			return nil, fmt.Errorf("--local: %w", err)
		}
		f.Local = append(f.Local, p)
	}
	if cmd.IsSet("interface") {
		iface, err := lookupInterface(cmd.String("interface"))
		if err != nil {
			return nil, err
		}
		f.Interface = iface
	}
	for _, w := range cmd.Args().Slice() {
		eps, err := sockdiag.ParsePeer(w, services, func(host string) ([]netip.Addr, error) {
			addrs, err := resolveHost(ctx, host)
			if err == nil {
				sel.notes = append(sel.notes, fmt.Sprintf("peer %s is %s", host, joinAddrs(addrs)))
			}
			return addrs, err
		})
		if err != nil {
			return nil, err
		}
		f.Peers = append(f.Peers, eps...)
	}
	var note string
	sel.guards.Session, note = session(cmd)
	if note != "" {
		sel.notes = append(sel.notes, note)
	}
	return sel, nil
}

// session returns the SSH connection the guard protects, nil with
// --include-self or without one, and a warning when it cannot be read.
func session(cmd *cli.Command) (*kill.Session, string) {
	if cmd.Bool("include-self") {
		return nil, ""
	}
	v := sshConnection(os.Getpid())
	if v == "" {
		return nil, ""
	}
	ss, err := kill.ParseSession(v)
	if err != nil {
		return nil, fmt.Sprintf("warning: the ssh session cannot be protected: %v", err)
	}
	return ss, ""
}

// sshConnection finds SSH_CONNECTION in the environment of tcpreap or, when
// sudo has cleared it there, of the nearest ancestor process that has it.
func sshConnection(pid int) string {
	if v := os.Getenv("SSH_CONNECTION"); v != "" {
		return v
	}
	for range 64 {
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			return ""
		}
		pid = ppid
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "SSH_CONNECTION="); ok {
				return v
			}
		}
	}
	return ""
}

// parentOf reads a process's parent from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself hold spaces and parentheses.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat is too short", pid)
	}
	return strconv.Atoi(fields[1])
}

func resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve peer host name %q: %v; give its IP address", host, err)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), nil
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}

// lookupInterface reads an interface's index and addresses in this network
// namespace.
func lookupInterface(name string) (*sockdiag.Interface, error) {
	if name == "" {
		return nil, errors.New("--interface: the interface name is empty")
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("--interface: no interface named %q in this network namespace (see ip link)", name)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("--interface: cannot read the addresses of %s: %v", name, err)
	}
	iface := &sockdiag.Interface{Name: name, Index: uint32(ifi.Index)}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			iface.Addrs = append(iface.Addrs, p.Addr())
		}
	}
	return iface, nil
}
