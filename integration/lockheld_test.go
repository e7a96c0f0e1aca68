// A socket whose lock an application holds, stuck in the kernel: the destroy of it waits,
// and so do the destroys sent after it in the same request.

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationPendingBehindAHeldLock: six connections to one listener, and the lock of
// the third (in the order the kernel dumps them) held by a thread of the test stuck in a
// send whose buffer faults into a userfaultfd nobody serves. tcpreap destroys the two
// before it, names that one as the socket whose lock is held, says the three after it wait
// behind it, all four pending, exits 1 with the sentence once, and its audit summary
// counts them. Once the lock is released, the kernel carries the pending destroys out:
// the four sockets go.
func TestIntegrationPendingBehindAHeldLock(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	port := strconv.Itoa(int(l.Addr().(*net.TCPAddr).Port))
	var pairs []testnet.Pair
	for range 6 {
		pairs = append(pairs, e.inbound(l, peer))
	}
	plan := e.json(0, "-n", "--sport", port)
	if len(plan.Sockets) != 6 {
		t.Fatalf("the dry run shows %d sockets, want the 6 connections", len(plan.Sockets))
	}
	held := -1
	for i, p := range pairs {
		if p.Cookie == plan.Sockets[2].Cookie {
			held = i
		}
	}
	if held < 0 {
		t.Fatalf("the third socket of the dry run, %+v, is none of the test's", plan.Sockets[2])
	}
	release := holdLock(t, pairs[held])

	out, errOut, code := e.tcpreapHeld(release, false, "--json", "--sport", port)
	if code != 1 {
		t.Errorf("tcpreap exited %d, want 1", code)
	}
	r, err := testnet.ParseReport(out)
	e.check(err)

	at := slicesIndex(r.Sockets, pairs[held].Cookie)
	if at < 0 {
		t.Fatalf("the socket whose lock is held is not in the report")
	}
	for i, rec := range r.Sockets[:6] {
		switch {
		case i < at && rec.Action != "killed":
			t.Errorf("socket %d, before the held one: %s %s, want killed", i, rec.Action, rec.Error)
		case i == at && (rec.Action != "pending" || !strings.Contains(rec.Error, "its lock is held")):
			t.Errorf("the held socket: %s %q, want pending: its lock is held", rec.Action, rec.Error)
		case i > at && (rec.Action != "pending" || !strings.Contains(rec.Error, "sent behind")):
			t.Errorf("socket %d, after the held one: %s %q, want pending behind it", i, rec.Action, rec.Error)
		}
	}
	if at < 1 || at > 4 {
		t.Errorf("the held socket is number %d of the real run: the test wants one before and one after it", at)
	}
	if r.Summary.Pending != 6-at || r.Summary.Killed != at || r.Summary.Failed != 0 {
		t.Errorf("summary %+v, want %d killed and %d pending", r.Summary, at, 6-at)
	}
	if n := strings.Count(errOut, "may still be destroyed when it is released"); n != 1 {
		t.Errorf("stderr says the held lock's sentence %d times, want once", n)
	}
	if _, err := e.Local.Await("the pending sockets destroyed", func(ss testnet.Sockets) bool {
		for _, p := range pairs {
			if _, ok := ss.Find(p.LocalAddr(), p.RemoteAddr()); ok {
				return false
			}
		}
		return true
	}); err != nil {
		t.Errorf("after the lock was released: %v", err)
	}
}

// tcpreapHeld runs tcpreap with args in A while a socket's lock is held: tcpreap reports
// and exits, but a thread of its that the kernel holds keeps the process until the lock is
// released. So stdout (or, with onStderr, stderr) is read to its last line, the lock
// released, and then the process waited for.
func (e *env) tcpreapHeld(release func(), onStderr bool, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.Local.Command(ctx, append([]string{bin}, args...)...)
	var rest bytes.Buffer
	var pipe io.ReadCloser
	var err error
	if onStderr {
		cmd.Stdout = &rest
		pipe, err = cmd.StderrPipe()
	} else {
		cmd.Stderr = &rest
		pipe, err = cmd.StdoutPipe()
	}
	e.check(err)
	e.check(cmd.Start())
	var read strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		read.WriteString(sc.Text() + "\n")
		if !onStderr && strings.HasPrefix(sc.Text(), `{"summary"`) || onStderr && strings.HasPrefix(sc.Text(), "tcpreap: ") {
			break
		}
	}
	release()
	go io.Copy(io.Discard, pipe)
	err = cmd.Wait()
	code = cmd.ProcessState.ExitCode()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		e.t.Errorf("tcpreap %s: %v", strings.Join(args, " "), err)
	}
	stdout, stderr = read.String(), rest.String()
	if onStderr {
		stdout, stderr = stderr, stdout
	}
	e.t.Logf("tcpreap %s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	return stdout, stderr, code
}

// holdLock makes a thread of the test hold the socket lock of p's end in A: it sends a
// buffer that no page backs, registered with a userfaultfd that serves no fault, so the
// kernel's copy of it waits, inside tcp_sendmsg, with the lock taken. release closes the
// userfaultfd: the fault is served with a zero page, the send ends, the lock is released.
func holdLock(t *testing.T, p testnet.Pair) (release func()) {
	t.Helper()
	uffd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK, 0, 0)
	if errno != 0 {
		t.Skipf("userfaultfd: %v (the test holds a socket's lock with one)", errno)
	}
	// struct uffdio_api, UFFDIO_API = _IOWR(0xAA, 0x3F, 24 bytes)
	api := [3]uint64{0xAA, 0, 0}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uffd, 0xC018AA3F, uintptr(unsafe.Pointer(&api))); errno != 0 {
		unix.Close(int(uffd))
		t.Fatalf("UFFDIO_API: %v", errno)
	}
	mem, err := unix.Mmap(-1, 0, 2*unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(int(uffd))
		t.Fatal(err)
	}
	// struct uffdio_register {start, len, mode, ioctls}, UFFDIO_REGISTER = _IOWR(0xAA, 0x00, 32
	// bytes), UFFDIO_REGISTER_MODE_MISSING = 1.
	reg := [4]uint64{uint64(uintptr(unsafe.Pointer(&mem[0]))), uint64(len(mem)), 1, 0}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uffd, 0xC020AA00, uintptr(unsafe.Pointer(&reg))); errno != 0 {
		unix.Close(int(uffd))
		t.Fatalf("UFFDIO_REGISTER: %v", errno)
	}
	rc, err := p.Local.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go rc.Control(func(fd uintptr) {
		_, err := unix.Write(int(fd), mem)
		sent <- err
	})
	// The send is held once it is in the kernel; nothing tells when, but it is at once.
	select {
	case err := <-sent:
		t.Fatalf("the send that should hold the lock returned: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	closed := false
	release = func() {
		if closed {
			return
		}
		closed = true
		unix.Close(int(uffd))
		select {
		case <-sent:
		case <-time.After(10 * time.Second):
			t.Errorf("the held send did not end once the userfaultfd was closed")
		}
		unix.Munmap(mem)
	}
	t.Cleanup(release)
	return release
}
