package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

// netnsFlag is --netns, of every command that looks at sockets.
func (o *options) netnsFlag() cli.Flag {
	return &cli.StringFlag{Name: "netns", Destination: &o.netns,
		Usage: "work in network namespace `NS`: a name under /run/netns, an nsfs path (/proc/PID/ns/net), or pid:PID"}
}

// allNetnsFlag is --all-netns, of the commands that plan.
func (o *options) allNetnsFlag() cli.Flag {
	return &cli.BoolFlag{Name: "all-netns", Destination: &o.allNetns,
		Usage: "work in every network namespace of the host: named, Docker's, and every process's"}
}

// openSpaces opens the network namespaces the command works in: the one
// tcpreap runs in (a nil Namespace), --netns's, or every one (--all-netns).
// The caller closes them (closeSpaces).
func (o *options) openSpaces(sel *selection) ([]*host.Namespace, error) {
	switch {
	case o.allNetns && o.netns != "":
		return nil, fmt.Errorf("--netns %s and --all-netns: give one of them", o.netns)
	case o.allNetns && o.ifaceSet:
		return nil, fmt.Errorf("--interface %s names an interface of one network namespace; give it with --netns, not --all-netns", o.iface)
	case o.allNetns:
		sel.passOver = o.listing
		all, unreadable, err := host.AllNetNS()
		if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
			return nil, fmt.Errorf("--all-netns: %w or give --netns", err)
		}
		if err != nil {
			return nil, fmt.Errorf("--all-netns: %w", err)
		}
		if n := len(unreadable); n > 0 {
			who := fmt.Sprintf("%d processes", n)
			if n == 1 {
				who = "1 process"
			}
			some := strings.Join(unreadable[:min(n, 3)], ", ")
			if n > 3 {
				some += ", …"
			}
			why := "permission denied"
			if os.Geteuid() != 0 {
				why += "; run as root"
			}
			sel.notes = append(sel.notes, fmt.Sprintf("warning: --all-netns could not look at the network namespace of %s (%s): %s", who, why, some))
		}
		return all, nil
	case o.netns != "":
		ns, err := host.OpenNetNS(o.netns)
		if errors.Is(err, fs.ErrPermission) {
			return nil, notPermitted{fmt.Errorf("--netns: %w", err)}
		}
		if err != nil {
			return nil, fmt.Errorf("--netns: %v", err)
		}
		return []*host.Namespace{ns}, nil
	}
	return []*host.Namespace{nil}, nil
}

func closeSpaces(spaces []*host.Namespace) {
	for _, ns := range spaces {
		ns.Close()
	}
}

// A part is the plan of one network namespace, and the connection to the
// kernel made in it.
type part struct {
	ns   *host.Namespace // nil: the namespace tcpreap runs in
	conn *sockdiag.Conn
	plan *kill.Plan
}

// parts are the plans of every namespace a command works in, in order.
type parts []part

// close closes the connections and the namespaces.
func (ps parts) close() {
	for _, p := range ps {
		p.conn.Close()
		p.ns.Close()
	}
}

// targets is how many sockets all the plans would destroy.
func (ps parts) targets() int {
	n := 0
	for _, p := range ps {
		n += len(p.plan.Targets)
	}
	return n
}

// merged is one plan of every part's targets and skips, for the summary a
// confirmation shows.
func (ps parts) merged() *kill.Plan {
	if len(ps) == 1 {
		return ps[0].plan
	}
	all := &kill.Plan{}
	for _, p := range ps {
		all.Targets = append(all.Targets, p.plan.Targets...)
		all.Skipped = append(all.Skipped, p.plan.Skipped...)
	}
	return all
}

// dryRun is every part's plan as the results of a dry run, and where each
// part's results end.
func (ps parts) dryRun() ([]kill.Result, *spaceIndex) {
	var results []kill.Result
	idx := ps.index()
	for _, p := range ps {
		if len(ps) == 1 {
			// Not copied: a plan of 250,000 sockets is 8 MB of results.
			results = p.plan.DryRun()
		} else {
			results = append(results, p.plan.DryRun()...)
		}
		if idx != nil {
			idx.ends = append(idx.ends, len(results))
		}
	}
	return results, idx
}

// index starts the spaceIndex of these parts; nil when they are the one
// namespace tcpreap runs in, which is not labelled.
func (ps parts) index() *spaceIndex {
	if len(ps) == 1 && ps[0].ns == nil {
		return nil
	}
	idx := &spaceIndex{column: len(ps) > 1}
	for _, p := range ps {
		idx.spaces = append(idx.spaces, p.ns)
		idx.ifNames = append(idx.ifNames, interfaceNames(p.ns))
	}
	return idx
}

// A spaceIndex says which namespace each of a run of results is in: the
// results of parts, one after another. nil is the namespace tcpreap runs
// in, for every result.
type spaceIndex struct {
	spaces  []*host.Namespace
	ends    []int                 // where each namespace's results end
	ifNames []func(uint32) string // interface names, in each
	column  bool                  // the table shows a NetNS column (several namespaces)
}

// at is the part of result i.
func (x *spaceIndex) at(i int) int {
	// The first part whose results end after i: a search, for a table of
	// 190,000 rows over many namespaces asks it for every row.
	p, _ := slices.BinarySearch(x.ends, i+1)
	return min(p, len(x.ends)-1)
}

// label names the namespace of result i; "" in tcpreap's own.
func (x *spaceIndex) label(i int) string {
	if x == nil {
		return ""
	}
	return x.spaces[x.at(i)].String()
}

// ifName names interface index in the namespace of result i.
func (x *spaceIndex) ifName(i int, index uint32) string {
	if x == nil {
		return host.InterfaceName(index)
	}
	return x.ifNames[x.at(i)](index)
}

// interfaceNames names the interfaces of ns by index, read once, when first
// asked for (a socket bound to an interface).
func interfaceNames(ns *host.Namespace) func(uint32) string {
	if ns == nil {
		return host.InterfaceName
	}
	names := sync.OnceValue(func() map[uint32]string {
		m := map[uint32]string{}
		ns.Do(func() error {
			ifs, err := net.Interfaces()
			for _, ifi := range ifs {
				m[uint32(ifi.Index)] = ifi.Name
			}
			return err
		})
		return m
	})
	return func(index uint32) string {
		if name, ok := names()[index]; ok {
			return name
		}
		return fmt.Sprint(index)
	}
}

// dialIn opens a connection to the kernel in namespace ns.
func dialIn(ns *host.Namespace, workers int) (*sockdiag.Conn, error) {
	conn, err := sockdiag.Dial(&sockdiag.Config{NetNS: dialFd(ns), Workers: workers})
	return conn, enterError(ns, err)
}

// dialFd is the descriptor a netlink socket of namespace ns is opened with:
// 0, no setns and no CAP_SYS_ADMIN, for tcpreap's own (--all-netns finds it
// too, and --netns may name it).
func dialFd(ns *host.Namespace) int {
	if here, err := host.Here(); err == nil && ns != nil && ns.ID == here.NetNS {
		return 0
	}
	return ns.Fd()
}

// enterError explains what opening a netlink socket in namespace ns may
// fail for: entering it, and the descriptors every namespace holds.
func enterError(ns *host.Namespace, err error) error {
	switch {
	case ns != nil && errors.Is(err, unix.EPERM):
		return fmt.Errorf("entering another network namespace needs CAP_SYS_ADMIN (try sudo): %w", err)
	case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
		return fmt.Errorf("too many open files (every namespace of --all-netns is held open with its netlink sockets; raise ulimit -n): %w", err)
	}
	return err
}

// inSpace says in which namespace an error happened, when it is not the
// one tcpreap runs in.
func inSpace(ns *host.Namespace, err error) error {
	if ns == nil || err == nil {
		return err
	}
	return fmt.Errorf("in network namespace %s: %w", ns, err)
}
