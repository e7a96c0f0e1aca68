package sockdiag

import (
	"testing"

	"github.com/tcpreap/tcpreap/internal/ownnetns"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// the ones that reach the real kernel must not touch a socket of the
// machine.
func TestMain(m *testing.M) { ownnetns.Main(m) }

// TestProbeOrphan makes, destroys and looks for an orphan of its own on the
// real kernel: from Linux 6.11 on, and where the fix was backported, the
// destroy takes effect.
func TestProbeOrphan(t *testing.T) {
	if !ownnetns.Inside() {
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
