package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationNetNSApplyNotPermitted: a plan made as root with --netns pid:PID, applied
// by a user who may not open that process's namespace, is refused for want of permission
// (exit 1, as the design gives a missing permission), not as a namespace that "no longer
// exists" (it does) with the exit code of bad input; nothing is destroyed.
func TestIntegrationNetNSApplyNotPermitted(t *testing.T) {
	tw := newTwins(t, 40015)
	e := tw.e
	pid := sleeper(t, e.Local)
	res := e.run(tw.other.Peer, bin, "plan", "--netns", "pid:"+strconv.Itoa(pid), testnet.PeerV4.String())
	if res.Code != 0 {
		t.Fatalf("plan: exit %d: %s", res.Code, res.Stderr)
	}
	dir, err := os.MkdirTemp("", "tcpreap-netns-plan-") // nobody may enter it, unlike t.TempDir
	e.check(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.check(os.Chmod(dir, 0o755))
	file := filepath.Join(dir, "plan")
	e.check(os.WriteFile(file, []byte(res.Stdout), 0o600))
	e.check(os.Chown(file, 65534, 65534)) // the plan is nobody's, as one they made would be

	res = e.run(tw.other.Peer, slices.Concat(nobody, []string{bin, "apply", "-y", "--no-audit", file})...)
	if res.Code != 1 || strings.Contains(res.Stderr, "no longer exists") || !strings.Contains(res.Stderr, "permission denied") {
		t.Errorf("unprivileged apply of a --netns pid: plan: exit %d, %q; want 1 and a sentence on the permission", res.Code, res.Stderr)
	}
	expectPresent(t, e.sockets(), "established", tcp("target", tw.target))
}
