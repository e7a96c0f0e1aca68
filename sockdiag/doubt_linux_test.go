package sockdiag

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// unitNetNSEnv marks a test binary that runs in a network namespace of its
// own.
const unitNetNSEnv = "TCPREAP_UNIT_NETNS"

// TestMain runs the tests, as root, in a new network namespace with its
// loopback up (unshare --net): the ones that reach the real kernel must
// not touch a socket of the machine.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 || os.Getenv(unitNetNSEnv) != "" {
		os.Exit(m.Run())
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), unitNetNSEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sockdiag: cannot run the tests in a network namespace of their own: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestProbeOrphan makes, destroys and looks for an orphan of its own on the
// real kernel: from Linux 6.11 on, and where the fix was backported, the
// destroy takes effect.
func TestProbeOrphan(t *testing.T) {
	if os.Getenv(unitNetNSEnv) == "" {
		t.Skip("needs root, for a network namespace of its own")
	}
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.probeOrphan(t.Context())
	t.Logf("kernel %v: the orphan probe says %v", c.release, err)
	if c.release.AtLeast(6, 11) && err != nil {
		t.Errorf("on %v the orphan probe failed: %v", c.release, err)
	}
	if err != nil && err.Error() != "the kernel answered 0 and left the orphan" {
		t.Errorf("the probe could not run: %v", err)
	}
	for s, err := range c.Query(t.Context(), &Filter{States: AllStates, Local: nil}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.State != TimeWait && s.ID.Local.Addr().IsLoopback() {
			t.Errorf("the probe left %v %v -> %v", s.State, s.ID.Local, s.ID.Remote)
		}
	}
}
