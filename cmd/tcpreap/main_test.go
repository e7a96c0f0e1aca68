package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// unitNetNSEnv marks a test binary that runs in a network namespace of its
// own.
const unitNetNSEnv = "TCPREAP_UNIT_NETNS"

// TestMain runs the unit tests, as root, in a new, empty network namespace
// (unshare --net): they drive the command line against the real kernel,
// and none of them, nor a bug in one, may reach a socket of the machine.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 || os.Getenv(unitNetNSEnv) != "" {
		os.Exit(m.Run())
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), unitNetNSEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cmd/tcpreap: cannot run the tests in a network namespace of their own: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestRunsInANetNSOfItsOwn: as root, the tests cannot see the machine's
// sockets.
func TestRunsInANetNSOfItsOwn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: nothing can be destroyed anyway")
	}
	// The parent is whoever ran the tests (go test), in the machine's
	// namespace: unshare made this one and replaced itself with the tests.
	self, err1 := os.Readlink("/proc/self/ns/net")
	parent, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", os.Getppid()))
	if err1 != nil || err2 != nil || self == parent {
		t.Errorf("the tests run in network namespace %s, their parent's is %s (%v, %v)", self, parent, err1, err2)
	}
}
