package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/tcpreap/tcpreap/internal/ownnetns"
)

// TestMain runs the unit tests, as root, in a new, empty network namespace:
// they drive the command line against the real kernel, and none of them,
// nor a bug in one, may reach a socket of the machine.
func TestMain(m *testing.M) { ownnetns.Main(m) }

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
