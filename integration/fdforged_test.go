// The fd engine acts only on the planned socket, by its cookie, whatever else a plan file
// carries.

package integration

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationEngineFDPlanCookieAbsent: a plan of an MPTCP listener whose cookie was
// edited (and the file sealed again) names a TCP listener the kernel does not have, its
// other fields the live one's: edited to another number, or to the cookie of the MPTCP
// socket itself. apply --engine fd stops nothing: the target is gone, and the MPTCP
// listener still accepts connections.
func TestIntegrationEngineFDPlanCookieAbsent(t *testing.T) {
	e := setup(t)
	l, addr := e.mptcpListener()
	port := strconv.Itoa(int(addr.Port()))
	plan := e.plan("--state", "listen", "--sport", port)
	// ss -M shows the MPTCP socket, with its cookie (sk:, in hex).
	res, err := e.Local.Run("ss", "-HMlne", "sport", "=", ":"+port)
	e.check(err)
	m := regexp.MustCompile(` sk:([0-9a-f]+)`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("no cookie for the MPTCP listener in ss -M:\n%s", res.Stdout)
	}
	msk, err := strconv.ParseUint(m[1], 16, 64)
	e.check(err)

	for _, forged := range []string{
		reseal(t, editCookie(t, plan)),
		reseal(t, cookieRE.ReplaceAllLiteralString(plan, `"cookie":`+strconv.FormatUint(msk, 10))),
	} {
		res := e.tcpreap("apply", "--json", "-y", "--engine", "fd", e.writePlan(forged))
		r, err := testnet.ParseReport(res.Stdout)
		e.check(err)
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "gone" {
			t.Errorf("a TCP listener the kernel does not have: %+v, want gone", r.Sockets)
		}
		expectListening(t, e.sockets(), l)
		c, err := e.Dial(addr)
		e.check(err)
		e.check(l.SetDeadline(time.Now().Add(5 * time.Second)))
		a, err := l.Accept()
		c.Close()
		if err != nil {
			t.Fatalf("the MPTCP listener no longer accepts: %v", err)
		}
		a.Close()
	}
}

// TestIntegrationEngineFDPlanOtherKind: a plan edited to name a TCP connection as a UDP
// socket, cookie and inode kept, names a socket the kernel does not have: apply leaves the
// connection alone with every engine, and it still carries data.
func TestIntegrationEngineFDPlanOtherKind(t *testing.T) {
	e := setup(t)
	p := e.inbound(e.listenV4(), peer)
	forged := reseal(t, strings.Replace(e.plan(testnet.PeerV4.String()), `"proto":"tcp"`, `"proto":"udp"`, 1))
	for _, engine := range []string{"diag", "bpf", "fd"} {
		r := e.decode(e.tcpreap("apply", "--json", "-y", "--engine", engine, e.writePlan(forged)), 0)
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "gone" {
			t.Errorf("--engine %s: a UDP socket the kernel does not have: %+v, want gone", engine, r.Sockets)
		}
		if err := testnet.Echo(p); err != nil {
			t.Fatalf("--engine %s: the TCP connection no longer carries data: %v", engine, err)
		}
	}
}

// TestIntegrationEngineFDMPTCPFallback: an MPTCP connection that fell back to TCP (its
// peer does not speak MPTCP) is held through its MPTCP socket, with its one subflow's
// addresses. --engine fd closes it there: its application's read fails, and the peer sees
// the connection end.
func TestIntegrationEngineFDMPTCPFallback(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	l := e.mptcpListen(false, "192.0.2.2:0")
	fallback := e.mptcpDial(l)
	closeWait := e.mptcpDial(l) // its peer closed its side: CLOSE-WAIT in A
	e.check(closeWait.Peer.CloseWrite())
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, ok := e.sockets().Find(closeWait.LocalAddr(), closeWait.RemoteAddr()); ok && s.State == "close_wait" {
			break
		}
	}
	r := e.jsonAnyExit("--engine", "fd", testnet.PeerV4.String())
	if r.Summary.Matched != 2 || r.Summary.Killed != 2 {
		t.Errorf("two connections that fell back to TCP: %+v, want both killed", r.Sockets)
	}
	expectGone(t, e.sockets(), tcp("fell back", fallback), tcp("fell back, CLOSE-WAIT", closeWait))
	if err := testnet.ReadErr(fallback.Local); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the application's read: %v, want an error", err)
	}
	if err := testnet.ReadErr(fallback.Peer); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the peer's read: %v, want the connection's end", err)
	}
}
