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
	self, err1 := os.Readlink("/proc/self/ns/net")
	initNS, err2 := os.Readlink("/proc/1/ns/net")
	if err1 != nil || err2 != nil || self == initNS {
		t.Errorf("the tests run in network namespace %s, init's is %s (%v, %v)", self, initNS, err1, err2)
	}
}
