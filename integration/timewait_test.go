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

// TestIntegrationTimeWaitFinWait2 is the timewait socket the kernel makes
// when an application closes and its peer has not: it dumps as fin_wait2
// with the TIME_WAIT timer and belongs to no process. tcpreap destroys it
// (Linux 6.0+) and the peer gets no reset: it stays in CLOSE_WAIT.
func TestIntegrationTimeWaitFinWait2(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	p := e.inbound(l, peer)
	local, remote := p.LocalAddr(), p.RemoteAddr()
	e.check(p.Local.Close())
	e.check(e.Local.AwaitState(local, remote, "fin_wait2"))
	e.check(e.Peer.AwaitState(remote, local, "close_wait"))

	if major, _ := kernelVersion(t); major < 6 {
		r, err := testnet.ParseReport(e.tcpreap("--json", "--state", "fin_wait2", testnet.PeerV4.String()).Stdout)
		e.check(err)
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "skipped" || !strings.Contains(r.Sockets[0].Reason, "TIME_WAIT") {
			t.Errorf("before 6.0 tcpreap reported %+v, want the timewait socket skipped with the TIME_WAIT reason", r.Sockets)
		}
		return
	}
	r := e.json(0, "--state", "fin_wait2", testnet.PeerV4.String())
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "killed" || r.Sockets[0].Inode != 0 {
		t.Fatalf("tcpreap reported %+v, want the orphaned fin_wait2 socket killed", r.Sockets)
	}
	if _, ok := e.sockets().Find(local, remote); ok {
		t.Error("the fin_wait2 timewait socket is still in the kernel")
	}
	ss, err := e.Peer.Sockets()
	e.check(err)
	if s, ok := ss.Find(remote, local); !ok || s.State != "close_wait" {
		t.Errorf("the peer's socket is %v (present %v), want close_wait: no reset was due", s, ok)
	}
}
