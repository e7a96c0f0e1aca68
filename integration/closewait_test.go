package integration

import (
	"bufio"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationCloseWaitReap is "reap the CLOSE_WAIT sockets of this service", with the
// service given by name: only CLOSE_WAIT, only that port.
func TestIntegrationCloseWaitReap(t *testing.T) {
	const service = "postgresql"
	port := servicePort(t, service)
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, port))
	elsewhere := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))

	est := e.inbound(l, peer)
	otherEst := e.inbound(l, otherPeer)
	cw := e.closeWait(l, peer)
	otherCW := e.closeWait(l, otherPeer)
	cwElsewhere := e.closeWait(elsewhere, peer)
	doomed := []conn{tcp("close_wait", cw), tcp("other peer's close_wait", otherCW)}

	r := e.json(0, "--state", "close_wait", "--port", service)
	expectRecords(t, r, "killed", doomed...)
	for _, rec := range r.Sockets {
		if rec.State != "close_wait" || rec.LocalPort != port {
			t.Errorf("reported %+v, want only close_wait on port %d", rec, port)
		}
	}
	if want := (testnet.Summary{Matched: 2, Killed: 2}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}

	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", tcp("established", est), tcp("other peer's established", otherEst))
	expectPresent(t, ss, "close_wait", tcp("close_wait on another port", cwElsewhere))
	expectListening(t, ss, l)
	expectWriteAborted(t, "close_wait", cw.Local)
	if err := testnet.Echo(est); err != nil {
		t.Errorf("the ESTABLISHED connection on %s no longer carries data: %v", service, err)
	}
}

// servicePort looks name up in /etc/services for TCP, independently of tcpreap's parser, and
// fails the test if it is not there: the test would otherwise prove nothing.
func servicePort(t *testing.T, name string) uint16 {
	t.Helper()
	f, err := os.Open("/etc/services")
	if err != nil {
		t.Fatalf("the service-name test needs /etc/services: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(f[1], "/")
		if !ok || proto != "tcp" || (f[0] != name && !slices.Contains(f[2:], name)) {
			continue
		}
		p, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			t.Fatalf("/etc/services: bad port in %q", sc.Text())
		}
		return uint16(p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("/etc/services has no tcp entry for %q; the service-name test needs it", name)
	return 0
}
