// The fd engine acts only on the planned socket, by its cookie, whatever else a plan file
// carries.

package integration

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationEngineFDPlanCookieAbsent: a plan of an MPTCP listener whose cookie was
// edited (and the file sealed again) names a listener the kernel does not have; its other
// fields are the live listener's. apply --engine fd stops nothing: the target is gone, and
// the MPTCP listener still accepts connections.
func TestIntegrationEngineFDPlanCookieAbsent(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	var l net.Listener
	e.check(e.Local.Do(func() (err error) {
		l, err = lc.Listen(context.Background(), "tcp", "192.0.2.1:0")
		return err
	}))
	t.Cleanup(func() { l.Close() })
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	plan := e.plan("--state", "listen", "--sport", strconv.Itoa(int(addr.Port())))
	forged := reseal(t, editCookie(t, plan))

	res := e.tcpreap("apply", "--json", "-y", "--engine", "fd", e.writePlan(forged))
	r, err := testnet.ParseReport(res.Stdout)
	e.check(err)
	for _, s := range r.Sockets {
		if s.Action == "killed" {
			t.Errorf("a listener the kernel does not have: %+v, want not killed", s)
		}
	}
	expectListening(t, e.sockets(), l.(*net.TCPListener))
	c, err := e.Dial(addr)
	e.check(err)
	defer c.Close()
	e.check(l.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second)))
	a, err := l.Accept()
	if err != nil {
		t.Fatalf("the MPTCP listener no longer accepts: %v (exit %d, stderr %s)", err, res.Code, res.Stderr)
	}
	a.Close()
}

// TestIntegrationEngineFDPlanOtherKind: a plan of a TCP connection edited to name it as a
// UDP socket, its cookie and inode kept, names a socket the kernel does not have: apply
// --engine fd leaves the connection alone, as the diag engine does, and it still carries
// data.
func TestIntegrationEngineFDPlanOtherKind(t *testing.T) {
	e := setup(t)
	p := e.inbound(e.listenV4(), peer)
	plan := e.plan(testnet.PeerV4.String())
	forged := reseal(t, strings.Replace(plan, `"proto":"tcp"`, `"proto":"udp"`, 1))
	for _, engine := range []string{"diag", "fd"} {
		r := e.decode(e.tcpreap("apply", "--json", "-y", "--engine", engine, e.writePlan(forged)), 0)
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "gone" {
			t.Errorf("--engine %s: a UDP socket the kernel does not have: %+v, want gone", engine, r.Sockets)
		}
		if err := testnet.Echo(p); err != nil {
			t.Fatalf("--engine %s: the TCP connection no longer carries data: %v", engine, err)
		}
	}
}
