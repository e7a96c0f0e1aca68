package integration

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationTimeWait is "free these TIME_WAIT ports". SOCK_DESTROY handles TIME_WAIT
// sockets only since Linux 6.0; before, the kernel answers EOPNOTSUPP and tcpreap must
// report a skip with that reason, not a success.
func TestIntegrationTimeWait(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	tw1 := e.timeWait(l, peer)
	tw2 := e.timeWait(l, otherPeer)
	est := e.inbound(l, peer)
	tws := []conn{tcp("time_wait", tw1), tcp("other peer's time_wait", tw2)}

	major, minor := kernelVersion(t)
	if major < 6 {
		// DESIGN.md fixes the skip and its reason, not the exit code of a run that only
		// skipped, so the code is not checked here.
		r, err := testnet.ParseReport(e.tcpreap("--json", "--state", "time_wait").Stdout)
		e.check(err)
		expectRecords(t, r, "skipped", tws...)
		for _, rec := range r.Sockets {
			if rec.Reason == "" {
				t.Errorf("%+v: skipped without a reason", rec)
			}
		}
		expectPresent(t, e.sockets(), "time_wait", tws...)
		t.Logf("kernel %d.%d: TIME_WAIT sockets cannot be destroyed, checked the skip", major, minor)
		return
	}

	r := e.json(0, "--state", "time_wait")
	expectRecords(t, r, "killed", tws...)
	if want := (testnet.Summary{Matched: 2, Killed: 2}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	ss := e.sockets()
	expectGone(t, ss, tws...)
	expectPresent(t, ss, "established", tcp("established", est))
	expectListening(t, ss, l)
}

// kernelVersion reads the running kernel's major and minor version.
func kernelVersion(t *testing.T) (major, minor int) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", b, err)
	}
	return major, minor
}
