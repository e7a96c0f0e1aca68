package reap

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// Where says in which network namespaces a Query works: the one tcpreap
// runs in (the zero Where), the one NetNS names (host.OpenNetNS: a name, a
// path or pid:PID), or every namespace of the host (All).
type Where struct {
	NetNS string
	All   bool
	// PassOver: with All, a namespace that cannot be looked at or entered
	// (EPERM) is passed over, with a note, instead of failing the Query;
	// for a listing, never for a destroy or a plan, which must not cover
	// less than asked. It does nothing without All: a namespace named by
	// NetNS that cannot be entered fails the Query.
	PassOver bool
}

// An InputError is a place or a selection that cannot be worked with as
// given: a namespace that does not exist or may not be opened, an interface
// the namespace does not have. Nothing was asked of the kernel. Of says
// which of the Query's inputs it is. An error for want of permission wraps
// fs.ErrPermission.
type InputError struct {
	Of  Input
	Err error
}

// An Input is one of the inputs of a Query that an InputError is of.
type Input uint8

// The inputs.
const (
	InputNetNS     Input = iota + 1 // Where.NetNS, or a plan file's namespace
	InputAll                        // Where.All: every namespace of the host
	InputInterface                  // Selection.Interface
)

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// passesOver reports whether a Query goes on without namespace ns, which
// failed with err: only a namespace of All, for a listing, that could not
// be entered. Without CAP_SYS_ADMIN no other namespace can be entered; a
// listing of every namespace goes on with the ones it can (its own), and
// says so. One namespace asked for by name is the whole Query: failing to
// enter it fails the Query.
func (w Where) passesOver(ns *host.Namespace, err error) bool {
	return w.All && w.PassOver && ns != nil && errors.Is(err, unix.EPERM)
}

// open opens the namespaces of w, nil for the one tcpreap runs in, with the
// notes a person should read. The caller closes them.
func (w Where) open() ([]*host.Namespace, []string, error) {
	switch {
	case w.All && w.NetNS != "":
		return nil, nil, &InputError{InputNetNS, fmt.Errorf("%s: a namespace and every namespace were both asked for; give one of them", w.NetNS)}
	case w.All:
		all, unreadable, err := host.AllNetNS()
		if err != nil {
			return nil, nil, &InputError{InputAll, err}
		}
		var notes []string
		if n := len(unreadable); n > 0 {
			some := strings.Join(unreadable[:min(n, 3)], ", ")
			if n > 3 {
				some += ", …"
			}
			why := "permission denied"
			if os.Geteuid() != 0 {
				why += "; run as root"
			}
			missed := fmt.Sprintf("could not look at the network namespace of %s (%s): %s", plural(n, "process", "processes"), why, some)
			if !w.PassOver {
				// A destroy or a plan over every namespace reaches every one
				// or none: it must not cover less than asked.
				closeSpaces(all)
				return nil, nil, &InputError{InputAll, denied(missed + "; nothing is done in any namespace rather than in some")}
			}
			notes = append(notes, "warning: "+missed)
		}
		return all, notes, nil
	case w.NetNS != "":
		ns, err := host.OpenNetNS(w.NetNS)
		if err != nil {
			return nil, nil, &InputError{InputNetNS, err}
		}
		return []*host.Namespace{ns}, nil, nil
	}
	return []*host.Namespace{nil}, nil, nil
}

// denied is a sentence of a missing permission, which wraps
// fs.ErrPermission without saying it again.
type denied string

func (d denied) Error() string { return string(d) }
func (denied) Unwrap() error   { return fs.ErrPermission }

func closeSpaces(spaces []*host.Namespace) {
	for _, ns := range spaces {
		ns.Close()
	}
}

// dialIn opens a connection to the kernel in namespace ns, with workers
// sockets to destroy on (0 chooses).
func dialIn(ns *host.Namespace, workers int) (*sockdiag.Conn, error) {
	conn, err := sockdiag.Dial(&sockdiag.Config{NetNS: dialFd(ns), Workers: workers})
	return conn, enterError(ns, err)
}

// dialFd is the descriptor a netlink socket of namespace ns is opened with
// (a Config's NetNS): 0, no setns and no CAP_SYS_ADMIN, for the namespace
// tcpreap runs in, whether ns is nil or names it.
func dialFd(ns *host.Namespace) int {
	if isHere(ns) {
		return 0
	}
	return ns.Fd()
}

// isHere reports whether ns is the namespace tcpreap runs in: nil, or one
// opened by a name or a path that leads there.
func isHere(ns *host.Namespace) bool {
	if ns == nil {
		return true
	}
	here, err := host.Here()
	return err == nil && ns.ID == here.NetNS
}

// enterError explains what opening a netlink socket in namespace ns may
// fail for: entering it, and the descriptors every namespace holds.
func enterError(ns *host.Namespace, err error) error {
	switch {
	case ns != nil && errors.Is(err, unix.EPERM):
		return fmt.Errorf("entering another network namespace needs CAP_SYS_ADMIN (try sudo): %w", err)
	case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
		return fmt.Errorf("too many open files (every namespace is held open with its netlink sockets; raise ulimit -n): %w", err)
	}
	return err
}

// inSpace says in which namespace an error happened, when it is not the
// one tcpreap runs in.
func inSpace(ns *host.Namespace, err error) error {
	if ne := (*host.NoInterfaceError)(nil); ns == nil || err == nil || errors.As(err, &ne) && ne.NetNS != "" {
		return err
	}
	return fmt.Errorf("in network namespace %s: %w", ns, err)
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
		return names()[index]
	}
}

// plural is "1 process", "2 processes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
