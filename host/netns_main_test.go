//go:build linux

package host

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mainThreadChild makes the test binary the child of TestDoLeavesMainThread.
const mainThreadChild = "TCPREAP_TEST_DO_MAIN_THREAD"

// TestMain is the test binary's own, unless it is TestDoLeavesMainThread's child.
func TestMain(m *testing.M) {
	if os.Getenv(mainThreadChild) == "" {
		os.Exit(m.Run())
	}
	// A namespace of a process of its own, held open by a descriptor; the
	// process is ended at once.
	unshare := exec.Command("unshare", "--net", "sleep", "60")
	if err := unshare.Start(); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", unshare.Process.Pid))
	for err == nil && sameNetNS(f) {
		f.Close() // unshare has not unshared yet
		time.Sleep(time.Millisecond)
		f, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", unshare.Process.Pid))
	}
	unshare.Process.Kill()
	unshare.Wait()
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	// Still the main goroutine, on the process's main thread: a goroutine
	// it starts and waits for runs on that thread, as a CLI's first Do may.
	before, _ := os.Readlink("/proc/self/ns/net")
	for range 20 {
		ns, err := OpenNetNS(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		ns.Do(func() error { return nil })
		ns.Close()
	}
	after, _ := os.Readlink("/proc/self/ns/net")
	fmt.Printf("%s %s\n", before, after)
	os.Exit(0)
}

// TestDoLeavesMainThread: Do never moves the process's main thread, which Go never
// ends: entered, it would stay in the namespace, and /proc/self/ns/net (Here) would
// name that namespace as tcpreap's own, and a connection to "tcpreap's own" namespace
// would then be made in the caller's instead of the one asked for.
func TestDoLeavesMainThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a network namespace needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainThreadChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || !strings.HasPrefix(f[0], "net:[") {
		t.Fatalf("child said %q", out)
	}
	if f[0] != f[1] {
		t.Errorf("after Do, the process's network namespace is %s, was %s: the main thread stayed in the namespace Do entered", f[1], f[0])
	}
}

// sameNetNS says whether f is the network namespace of this process.
func sameNetNS(f *os.File) bool {
	var a, b unix.Stat_t
	return unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat("/proc/self/ns/net", &b) == nil && a.Ino == b.Ino
}
