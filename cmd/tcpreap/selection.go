package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A selection is the parsed command line: the filter, the guards, and notes
// to show with the plan (what host names resolved to, a session that could
// not be read).
type selection struct {
	filter sockdiag.Filter
	guards kill.Guards
	notes  []string // "peer db1 is 192.0.2.2, 2001:db8::2"
}

// newSelection turns the selection options and PEER words into a selection.
// Every error is bad input: it names the word and what would be right.
func newSelection(ctx context.Context, o *options) (*selection, error) {
	sel := &selection{}
	f := &sel.filter
	if o.tcp {
		f.Protocols = append(f.Protocols, sockdiag.TCP)
	}
	if o.udp {
		f.Protocols = append(f.Protocols, sockdiag.UDP)
	}
	if o.ipv4 {
		f.Families = append(f.Families, sockdiag.IPv4)
	}
	if o.ipv6 {
		f.Families = append(f.Families, sockdiag.IPv6)
	}
	services := serviceLookup(f.Protocols)

	for _, w := range o.states {
		states, err := sockdiag.ParseStates(w)
		if err != nil {
			return nil, err
		}
		f.States |= states
		sel.guards.ListenNamed = sel.guards.ListenNamed || namesListen(w)
	}
	for _, p := range []struct {
		flag  string
		words []string
		into  *[]sockdiag.PortRange
	}{{"port", o.ports, &f.Ports}, {"local-port", o.localPorts, &f.LocalPorts}, {"remote-port", o.remotePorts, &f.RemotePorts}} {
		for _, w := range p.words {
			rs, err := sockdiag.ParsePorts(w, services)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", p.flag, err)
			}
			*p.into = append(*p.into, rs...)
		}
	}
	for _, w := range o.locals {
		p, err := sockdiag.ParsePrefix(w)
		if err != nil {
			return nil, fmt.Errorf("--local: %w", err)
		}
		f.Local = append(f.Local, p)
	}
	if o.ifaceSet {
		index, addrs, err := host.Interface(o.iface)
		if err != nil {
			return nil, fmt.Errorf("--interface: %w", err)
		}
		f.Interface = &sockdiag.Interface{Name: o.iface, Index: index, Addrs: addrs}
	}
	for _, w := range o.words {
		eps, err := sockdiag.ParsePeer(w, services, func(name string) ([]netip.Addr, error) {
			addrs, err := host.Resolve(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("cannot resolve peer host name %q: %v; give its IP address", name, err)
			}
			sel.notes = append(sel.notes, fmt.Sprintf("peer %s is %s", name, joinAddrs(addrs)))
			return addrs, nil
		})
		if err != nil {
			return nil, err
		}
		f.Peers = append(f.Peers, eps...)
	}
	var note string
	sel.guards.Session, note = sessionGuard(o.includeSelf)
	if note != "" {
		sel.notes = append(sel.notes, note)
	}
	return sel, nil
}

// tell says the selection's notes on stderr, unless quiet.
func (sel *selection) tell(io streams, quiet bool) {
	if quiet {
		return
	}
	for _, note := range sel.notes {
		fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", note)
	}
}

// namesListen reports whether a --state word names the LISTEN state itself
// or every state: only then may LISTEN sockets be destroyed. A group that
// merely contains listen ("big") shows them as kept back.
func namesListen(word string) bool {
	for _, item := range strings.Split(word, ",") {
		m, err := sockdiag.ParseStates(item)
		if err == nil && (m == 1<<sockdiag.Listen || m == sockdiag.AllStates) {
			return true
		}
	}
	return false
}

// serviceLookup looks service names up in the services database for the
// selected protocols (TCP when none is).
func serviceLookup(protocols []sockdiag.Protocol) sockdiag.ServiceLookup {
	names := []string{sockdiag.TCP.String()}
	if len(protocols) > 0 {
		names = names[:0]
		for _, p := range protocols {
			names = append(names, p.String())
		}
	}
	db := host.NewServices(host.ServicesFile)
	return func(name string) (uint16, error) { return db.Port(name, names...) }
}

// sessionGuard returns the SSH connection the guard protects: nil with
// --include-self or without one, and a warning when it cannot be read.
func sessionGuard(includeSelf bool) (*kill.Session, string) {
	if includeSelf {
		return nil, ""
	}
	c, err := host.SSHSession()
	if err != nil {
		return nil, fmt.Sprintf("warning: the ssh session cannot be protected: %v", err)
	}
	if c == nil {
		return nil, ""
	}
	s := kill.Session(*c)
	return &s, ""
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}

// query dials the kernel and plans the selection. The caller closes the
// connection.
func query(ctx context.Context, sel *selection) (*sockdiag.Conn, *kill.Plan, error) {
	conn, err := sockdiag.Dial(nil)
	if err != nil {
		return nil, nil, err
	}
	plan, err := kill.NewPlan(conn.Query(ctx, &sel.filter), sel.guards)
	if err != nil {
		conn.Close()
		return nil, nil, queryError(err)
	}
	return conn, plan, nil
}

// queryError explains a failed dump.
func queryError(err error) error {
	if why, ok := sockdiag.Explain(err); ok {
		return fmt.Errorf("%s: %v", why, err)
	}
	return fmt.Errorf("cannot list sockets: %v", err)
}
