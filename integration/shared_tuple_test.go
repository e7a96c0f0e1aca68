package integration

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationReuseportGroup: the kernel finds a destroy's target by
// address and port, and in an SO_REUSEPORT group that lookup may land on a
// sibling and answer ENOENT for a socket that is alive. tcpreap must never
// call such a socket gone: every listener the kernel still shows is reported
// failed, every one reported killed is gone, and the run exits 1 if any
// survived.
func TestIntegrationReuseportGroup(t *testing.T) {
	e := setup(t)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}}
	lc.SetMultipathTCP(false)
	var group []net.Listener
	e.check(e.Local.Do(func() error {
		for range 4 {
			l, err := lc.Listen(context.Background(), "tcp", "192.0.2.1:8080")
			if err != nil {
				return err
			}
			group = append(group, l)
		}
		return nil
	}))
	t.Cleanup(func() {
		for _, l := range group {
			l.Close()
		}
	})

	res := e.tcpreap("--json", "--state", "listen", "--sport", "8080")
	r := e.decode(res, res.Code)
	left := 0
	for _, s := range e.sockets() {
		if s.State == "listen" && s.Local.Port() == 8080 {
			left++
			i := slicesIndex(r.Sockets, s.Cookie)
			if i < 0 || r.Sockets[i].Action != "failed" {
				t.Errorf("listener with cookie %d is still there; tcpreap reported %+v", s.Cookie, r.Sockets)
			}
		}
	}
	killed := 0
	for _, rec := range r.Sockets {
		switch rec.Action {
		case "gone":
			t.Errorf("cookie %d reported gone: a group member is only gone if the kernel no longer shows it, and then it was killed", rec.Cookie)
		case "killed":
			killed++
		}
	}
	if killed+left != 4 {
		t.Errorf("%d killed and %d left of 4 listeners", killed, left)
	}
	if want := min(left, 1); res.Code != want {
		t.Errorf("exit %d with %d listeners left, want %d", res.Code, left, want)
	}
	if left > 0 && !strings.Contains(res.Stderr, "SO_REUSEPORT") {
		t.Errorf("stderr %q does not explain the survivors", res.Stderr)
	}
}

// TestIntegrationUDPBoundAndConnected: udp_abort disconnects a socket and
// leaves it bound to its explicit port, with its cookie. The connection is
// destroyed (killed, the owner reads ECONNABORTED) though the socket stays;
// an unconnected UDP socket is kept back with the reason.
func TestIntegrationUDPBoundAndConnected(t *testing.T) {
	e := setup(t)
	var conn, unconnected *net.UDPConn
	e.check(e.Local.Do(func() (err error) {
		conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5000")),
			net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.2:9999")))
		if err != nil {
			return err
		}
		unconnected, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5001")))
		return err
	}))
	t.Cleanup(func() { conn.Close(); unconnected.Close() })

	r := e.json(0, "-u", "192.0.2.2")
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "killed" || r.Sockets[0].LocalPort != 5000 {
		t.Fatalf("tcpreap reported %+v, want the connected socket killed", r.Sockets)
	}
	for _, s := range e.sockets() {
		if s.Proto == "udp" && s.Local.Port() == 5000 && s.State != "close" {
			t.Errorf("the UDP socket is still %s after the destroy: %v", s.State, s)
		}
	}
	expectAborted(t, "bound UDP", conn)

	r = e.json(0, "-u", "--state", "all", "--local", "192.0.2.1")
	if len(r.Sockets) == 0 {
		t.Fatal("nothing listed")
	}
	for _, rec := range r.Sockets {
		if rec.Action != "skipped" || !strings.Contains(rec.Reason, "unconnected UDP socket cannot be destroyed") {
			t.Errorf("%+v: want skipped as an unconnected UDP socket", rec)
		}
	}
	if _, err := unconnected.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("192.0.2.2:9")); err != nil {
		t.Errorf("the unconnected socket was touched: %v", err)
	}
}

// TestIntegrationPlanWhereItWasMade: a plan names sockets of one boot and
// one network namespace, and one with no selector needs --all to apply.
func TestIntegrationPlanWhereItWasMade(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	p := e.inbound(l, peer)
	plan := t.TempDir() + "/plan"

	res := e.run(e.Local, "sh", "-c", bin+" plan 192.0.2.2 > "+plan)
	e.check(errorIf(res.Code != 0, res.Stderr))
	res = e.run(e.Peer, bin, "apply", plan)
	if res.Code != 2 || !strings.Contains(res.Stderr, "made in network namespace") {
		t.Errorf("apply in another namespace: exit %d, stderr %q; want 2 and the namespace named", res.Code, res.Stderr)
	}

	res = e.run(e.Local, "sh", "-c", bin+" plan > "+plan)
	e.check(errorIf(res.Code != 0, res.Stderr))
	res = e.tcpreap("apply", plan)
	if res.Code != 2 || !strings.Contains(res.Stderr, "apply it with --all") {
		t.Errorf("apply of a plan with no selector: exit %d, stderr %q; want 2 and --all", res.Code, res.Stderr)
	}
	expectPresent(t, e.sockets(), "established", tcp("planned", p))

	res = e.tcpreap("apply", "--all", plan)
	if res.Code != 0 {
		t.Errorf("apply --all: exit %d, stderr %q", res.Code, res.Stderr)
	}
	ss := e.sockets()
	expectGone(t, ss, tcp("planned", p))
	expectListening(t, ss, l)
}

func slicesIndex(recs []testnet.Record, cookie uint64) int {
	for i, r := range recs {
		if r.Cookie == cookie {
			return i
		}
	}
	return -1
}

func errorIf(bad bool, msg string) error {
	if bad {
		return errors.New(msg)
	}
	return nil
}
