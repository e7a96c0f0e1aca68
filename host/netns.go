package host

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A Namespace is a network namespace that tcpreap was asked to work in
// (--netns, --all-netns), held open by a file descriptor so that it lives as
// long as tcpreap works in it, even when its last process exits. The nil
// *Namespace is the namespace tcpreap runs in.
type Namespace struct {
	// Label is how tcpreap shows it: its name under /run/netns, its nsfs
	// path, or "pid:PID (command)".
	Label string
	// Reach is how to open it again (a plan file's apply): the name, the
	// path, or "pid:PID".
	Reach string
	// ID is its identity, "net:[4026532…]".
	ID NetNS

	file *os.File
}

// Where network namespaces are found by name: ip netns keeps them in
// netNSDir, Docker in dockerNetNSDir. Tests point them elsewhere.
var (
	netNSDir       = "/run/netns"
	dockerNetNSDir = "/run/docker/netns"
)

// pidPrefix starts a namespace given by a process: pid:PID.
const pidPrefix = "pid:"

// OpenNetNS opens the network namespace spec names: a name under /run/netns
// (ip netns), an nsfs path (/proc/PID/ns/net, /run/docker/netns/…, a
// container runtime's), or pid:PID for the namespace of that process. It
// costs an open and a readlink; Close releases it.
func OpenNetNS(spec string) (*Namespace, error) {
	switch {
	case spec == "":
		return nil, errors.New("the network namespace is empty: give a name under /run/netns, a path, or pid:PID")
	case strings.HasPrefix(spec, pidPrefix):
		word := strings.TrimPrefix(spec, pidPrefix)
		pid, err := strconv.Atoi(word)
		if err != nil || pid <= 0 || word != strconv.Itoa(pid) {
			return nil, fmt.Errorf("%q is not pid:PID with a process id (pid:4711)", spec)
		}
		p, err := ReadProcess(pid)
		if err != nil {
			return nil, fmt.Errorf("there is no process %d to take the network namespace of (see ps)", pid)
		}
		ns, err := openNetNS(fmt.Sprintf("%s/%d/ns/net", procRoot, pid), fmt.Sprintf("process %d", pid))
		if err != nil {
			return nil, err
		}
		ns.Label, ns.Reach = processLabel(p), spec
		return ns, nil
	case strings.Contains(spec, "/"):
		ns, err := openNetNS(spec, spec)
		if err != nil {
			return nil, err
		}
		ns.Label, ns.Reach = spec, spec
		return ns, nil
	}
	if spec == "." || spec == ".." || strings.ContainsFunc(spec, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("%q is no network namespace name (see ip netns list)", spec)
	}
	path := filepath.Join(netNSDir, spec)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("there is no network namespace named %q in %s (see ip netns list), nor a file of that name: give a path with a /", spec, netNSDir)
	}
	ns, err := openNetNS(path, fmt.Sprintf("network namespace %q", spec))
	if err != nil {
		return nil, err
	}
	ns.Label, ns.Reach = spec, spec
	return ns, nil
}

// openNetNS opens path and checks that it is a network namespace; what
// names it for an error.
func openNetNS(path, what string) (*Namespace, error) {
	fd, err := openNSFile(path)
	switch {
	case errors.Is(err, errNotNSFS):
		return nil, fmt.Errorf("%s %w", path, err)
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("%s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("cannot open %s, the network namespace of %s: %w (try sudo; a process's needs CAP_SYS_PTRACE unless it has your uid and no capability you lack)", path, what, err)
	case err != nil:
		return nil, fmt.Errorf("cannot open %s, the network namespace of %s: %w", path, what, err)
	}
	f := os.NewFile(uintptr(fd), path)
	ino, err := netNSInode(fd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s %w", path, err)
	}
	return &Namespace{ID: netNSOf(ino), file: f}, nil
}

// netNSOf names the network namespace of nsfs inode ino as the kernel does.
func netNSOf(ino uint64) NetNS { return NetNS(fmt.Sprintf("net:[%d]", ino)) }

func processLabel(p Process) string {
	return fmt.Sprintf("%s%d (%s)", pidPrefix, p.PID, p.Command)
}

// Fd is the namespace's file descriptor, for setns and netlink.Config.NetNS;
// 0 for the nil Namespace: the namespace tcpreap runs in.
func (n *Namespace) Fd() int {
	if n == nil {
		return 0
	}
	return int(n.file.Fd())
}

// String is the Label; "" for the namespace tcpreap runs in.
func (n *Namespace) String() string {
	if n == nil {
		return ""
	}
	return n.Label
}

// Close releases the namespace.
func (n *Namespace) Close() error {
	if n == nil {
		return nil
	}
	return n.file.Close()
}

// Do runs fn on an OS thread that entered the namespace, and only there:
// the rest of tcpreap stays where it runs. What fn reads of /proc/thread-self/net,
// /proc/sys/net and the interfaces is the namespace's. fn must not start
// goroutines that expect to be in the namespace. The thread is never
// returned to other goroutines: it ends with fn. For the nil Namespace fn
// runs as it is.
func (n *Namespace) Do(fn func() error) error {
	if n == nil {
		return fn()
	}
	done := make(chan error, 1)
	go n.enter(fn, done)
	return <-done
}

// enter runs fn in the namespace on this goroutine's thread, which ends with
// it, and sends its error to done.
func (n *Namespace) enter(fn func() error, done chan<- error) {
	// Not unlocked: the thread exits with this goroutine, so that no
	// other goroutine ever runs in the namespace.
	runtime.LockOSThread()
	if isMainThread() {
		// Go never ends the main thread: entered, it would stay in the
		// namespace, and /proc/self/ns/net (Here) and /proc/self/net with
		// it. Held here, it cannot run the goroutine that enters instead.
		defer runtime.UnlockOSThread()
		inner := make(chan error, 1)
		go n.enter(fn, inner)
		done <- <-inner
		return
	}
	if err := enterNetNS(n.Fd()); err != nil {
		done <- fmt.Errorf("cannot enter the network namespace %s: %w", n.Label, err)
		return
	}
	done <- fn()
}

// AllNetNS opens every distinct network namespace of this host: those
// named under /run/netns, Docker's, then those of running processes (for
// each, the process with the lowest pid names it) and of their threads (a
// thread may be in a namespace of its own: a Go program or a CNI plugin
// that entered one on a locked thread), each once however many ways reach
// it. A process that exits meanwhile, or whose namespace cannot
// be read, is passed over; the namespaces are held open from here on.
// unreadable names what could not be looked at for want of permission
// ("pid:1 (systemd)"). Running out of descriptors is an error that wraps
// EMFILE (or ENFILE), and then none is held open.
func AllNetNS() (all []*Namespace, unreadable []string, err error) {
	type candidate struct {
		path, label, reach string
		pid                int  // the process's, for a process or its thread
		thread             bool // a thread's namespace, not its process's
	}
	var cands []candidate
	for _, dir := range []string{netNSDir, dockerNetNSDir} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("cannot read %s: %w", dir, err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if dir == netNSDir {
				cands = append(cands, candidate{path: path, label: e.Name(), reach: e.Name()})
			} else {
				cands = append(cands, candidate{path: path, label: path, reach: path})
			}
		}
	}
	procs, err := processes()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot list the processes: %w", err)
	}
	slices.SortFunc(procs, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	for _, p := range procs {
		cands = append(cands, candidate{path: fmt.Sprintf("%s/%d/ns/net", procRoot, p.PID), label: processLabel(p), reach: fmt.Sprintf("%s%d", pidPrefix, p.PID), pid: p.PID})
		for _, tid := range threads(p.PID) {
			path := fmt.Sprintf("%s/%d/task/%d/ns/net", procRoot, p.PID, tid)
			cands = append(cands, candidate{path: path, label: fmt.Sprintf("%s thread %d", processLabel(p), tid), reach: path, pid: p.PID, thread: true})
		}
	}
	seen := map[NetNS]bool{}
	// A process that cannot be looked at is said once, not once more for
	// each of its threads.
	deniedPID := map[int]bool{}
	deny := func(c candidate) {
		if c.thread && deniedPID[c.pid] {
			return
		}
		unreadable = append(unreadable, c.label)
		if c.pid != 0 {
			deniedPID[c.pid] = true
		}
	}
	for _, c := range cands {
		var st unix.Stat_t
		if err := unix.Stat(c.path, &st); err != nil || seen[netNSOf(st.Ino)] {
			if errors.Is(err, fs.ErrPermission) {
				deny(c)
			}
			continue
		}
		ns, err := openNetNS(c.path, c.reach)
		var errno unix.Errno
		switch {
		case errors.As(err, &errno) && (errno == unix.EMFILE || errno == unix.ENFILE):
			for _, open := range all {
				open.Close()
			}
			return nil, nil, fmt.Errorf("%w after %d network namespaces: every one is held open for the run; raise the limit (ulimit -n)", errno, len(all))
		case errors.Is(err, fs.ErrPermission):
			deny(c)
			continue
		case err != nil:
			continue // gone meanwhile, or not a namespace
		case seen[ns.ID]:
			// Its pid was reused between the look and the open: the
			// namespace it names now is one already held.
			ns.Close()
			continue
		}
		seen[ns.ID] = true
		ns.Label, ns.Reach = c.label, c.reach
		all = append(all, ns)
	}
	return all, unreadable, nil
}

// NetNSOfProcess is the network namespace process pid runs in (its main
// thread's), from one readlink of /proc/PID/ns/net.
func NetNSOfProcess(pid int) (NetNS, error) {
	link, err := os.Readlink(fmt.Sprintf("%s/%d/ns/net", procRoot, pid))
	return NetNS(link), err
}
