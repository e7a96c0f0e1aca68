package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// namespace is a network namespace of the bench's own. It has no name under /run/netns:
// only the bench's descriptor and the processes started in it keep it alive, so it goes
// away with them, also when the bench itself is killed (its children die with it, see
// start).
type namespace struct{ fd int }

// newNamespace makes a network namespace with lo up and the sysctls a large population
// needs, each a setting of that namespace only.
func newNamespace() (*namespace, error) {
	ns := &namespace{fd: -1}
	err := onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ns.fd = fd
		return configure()
	})
	if err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

// nsSysctls are written in every namespace the bench makes. TIME_WAIT sockets beyond
// tcp_max_tw_buckets are not kept (the kernel closes them at once), and the explicit
// client ports of the population (20000–39999) stay out of the ephemeral range.
var nsSysctls = map[string]string{
	"net/ipv4/tcp_max_tw_buckets":  "1000000",
	"net/ipv4/ip_local_port_range": "40000\t60999",
	"net/core/somaxconn":           "4096",
}

// configure runs on a thread inside the new namespace: /proc/sys/net shows the namespace
// of the thread that opens it.
func configure() error {
	for key, value := range nsSysctls {
		if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s: %w", strings.ReplaceAll(key, "/", "."), err)
		}
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

func (ns *namespace) close() {
	if ns.fd >= 0 {
		unix.Close(ns.fd)
		ns.fd = -1
	}
}

// onFreshThread runs fn on a goroutine locked to a thread of its own, which is never
// unlocked: Go ends the thread with the goroutine, so a thread whose namespace fn
// changed never runs anything else.
func onFreshThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// process is a program the bench started in one of its namespaces.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when it has exited and been waited for
	err     error         // from Wait, once done is closed
	elapsed time.Duration // from just before fork to the end of wait4, once done is closed
}

// live is every process started and not yet waited for, for killAll.
var live = struct {
	sync.Mutex
	procs map[*process]bool
}{procs: map[*process]bool{}}

// start starts cmd in ns. The fork happens on a thread moved into ns (a child starts in
// the network namespace of the thread that forks it), and that thread waits for the
// child and then ends. The child gets SIGKILL when that thread ends (PR_SET_PDEATHSIG),
// so no child outlives the bench, however the bench ends.
func start(ns *namespace, cmd *exec.Cmd) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		defer close(p.done)
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			started <- fmt.Errorf("setns: %w", err)
			return
		}
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		live.Lock()
		live.procs[p] = true
		live.Unlock()
		started <- nil
		p.err = cmd.Wait()
		p.elapsed = time.Since(t0)
		live.Lock()
		delete(live.procs, p)
		live.Unlock()
	}()
	if err := <-started; err != nil {
		<-p.done
		return nil, fmt.Errorf("starting %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return p, nil
}

// kill sends SIGKILL to p (by its pidfd, so never to a reused pid) and waits until it
// has been reaped.
func (p *process) kill() {
	p.cmd.Process.Kill() // an error means it has exited already
	<-p.done
}

// wait waits up to limit for p to exit, and kills it after that.
func (p *process) wait(limit time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		p.kill()
		return fmt.Errorf("%s: still running after %v, killed", strings.Join(p.cmd.Args, " "), limit)
	}
}

// killAll kills every process the bench started that has not exited yet.
func killAll() {
	live.Lock()
	var ps []*process
	for p := range live.procs {
		ps = append(ps, p)
	}
	live.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

// output runs argv in ns and returns its stdout; a non-zero exit is an error with its
// stderr.
func output(ns *namespace, limit time.Duration, argv ...string) ([]byte, error) {
	var stdout bytes.Buffer
	var stderr strings.Builder
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	p, err := start(ns, cmd)
	if err != nil {
		return nil, err
	}
	if err := p.wait(limit); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), p.err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
