package sockdiag_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func TestProbeFindsWhatTheKernelLacks(t *testing.T) {
	k := &sockdiagtest.Kernel{NoDestroy: true, NoDiag: []inet.Protocol{inet.UDP}, Release: sockdiag.Release{Major: 5, Minor: 10}}
	c := k.Conn()
	s := c.Probe(t.Context())
	if s.List[inet.TCP] != nil || !errors.Is(s.List[inet.UDP], sockdiag.ErrNoDiag(inet.UDP)) {
		t.Errorf("List %v, want TCP listable and UDP without its diag module", s.List)
	}
	if !errors.Is(s.Destroy[inet.TCP], sockdiag.ErrNoDestroy) || s.Destroy[inet.UDP] == nil {
		t.Errorf("Destroy %v, want neither", s.Destroy)
	}
	if s.Release.DestroysTimeWait() {
		t.Error("5.10 can destroy timewait sockets")
	}
	probes := k.Probes
	c.Probe(t.Context())
	if k.Probes != probes {
		t.Errorf("a second Probe asked the kernel again (%d probes, then %d)", probes, k.Probes)
	}
	if why, ok := sockdiag.Explain(s.List[inet.UDP]); !ok || !strings.Contains(why, "CONFIG_INET_UDP_DIAG") {
		t.Errorf("Explain(%v) = %q, %v", s.List[inet.UDP], why, ok)
	}
}

func TestProbeOfAFullKernel(t *testing.T) {
	k := &sockdiagtest.Kernel{Release: sockdiag.Release{Major: 6, Minor: 12}}
	s := k.Conn().Probe(t.Context())
	for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
		if s.List[p] != nil || s.Destroy[p] != nil {
			t.Errorf("%s: list %v, destroy %v; want both", p, s.List[p], s.Destroy[p])
		}
	}
	if !s.Release.DestroysTimeWait() {
		t.Error("6.12 cannot destroy timewait sockets")
	}
	if len(k.Requests) != 0 {
		t.Errorf("the probe sent %d requests that could select a socket", len(k.Requests))
	}
}

func TestParseRelease(t *testing.T) {
	for in, want := range map[string]sockdiag.Release{"6.1.0-28-amd64": {6, 1}, "5.15.0": {5, 15}, "6.11": {6, 11}, " 4.19.0-rt\n": {4, 19}} {
		if got, err := sockdiag.ParseRelease(in); err != nil || got != want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "six", "6", "v6.1"} {
		if _, err := sockdiag.ParseRelease(bad); err == nil {
			t.Errorf("ParseRelease(%q): no error", bad)
		}
	}
	if !(sockdiag.Release{Major: 6, Minor: 0}).AtLeast(6, 0) || (sockdiag.Release{Major: 5, Minor: 19}).AtLeast(6, 0) {
		t.Error("AtLeast is wrong at the 6.0 boundary")
	}
}

// TestDestroyExplainsMPTCPListener: the kernel refuses the destroy of an
// MPTCP listening subflow with EINVAL, and a dump of the listeners on its
// port shows the ULP "mptcp": that listener fails with ErrMPTCPListener. An
// EINVAL the dump does not confirm keeps the bare errno, and an MPTCP
// subflow that is no listener is destroyed.
func TestDestroyExplainsMPTCPListener(t *testing.T) {
	listen := func(port uint16, cookie sockdiag.Cookie) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.Listen, ID: sockdiag.SockID{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port),
			Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0),
			Cookie: cookie,
		}}
	}
	mptcp, plain, other := listen(8080, 1), listen(8080, 2), listen(9090, 3)
	subflow := sockets(1, sockdiag.Established, 4)[0]
	targets := []sockdiag.Socket{mptcp, plain, other, subflow}
	k := &sockdiagtest.Kernel{
		Sockets: slices.Clone(targets),
		ULP:     map[sockdiag.Cookie]string{1: "mptcp", 3: "tls", 4: "mptcp"},
		DestroyErr: func(s sockdiag.Socket) unix.Errno {
			if s.ID.Cookie == 2 || s.ID.Cookie == 3 {
				return unix.EINVAL // not MPTCP's: no kernel does this today
			}
			return 0
		},
	}
	errs := k.Conn().Destroy(t.Context(), targets, nil)
	if !errors.Is(errs[0], sockdiag.ErrMPTCPListener) || !errors.Is(errs[0], unix.EINVAL) {
		t.Errorf("MPTCP listener: %v, want ErrMPTCPListener wrapping EINVAL", errs[0])
	}
	if why, ok := sockdiag.Explain(errs[0]); !ok || !strings.Contains(why, "MPTCP") || !strings.Contains(why, "GODEBUG=multipathtcp=0") {
		t.Errorf("Explain = %q, %v: want the MPTCP sentence and what to do", why, ok)
	}
	for i, name := range map[int]string{1: "plain listener", 2: "tls listener"} {
		if !errors.Is(errs[i], unix.EINVAL) || errors.Is(errs[i], sockdiag.ErrMPTCPListener) {
			t.Errorf("%s: %v, want the bare EINVAL", name, errs[i])
		}
	}
	if errs[3] != nil {
		t.Errorf("MPTCP subflow of a connection: %v, want destroyed", errs[3])
	}
	// One dump per port refused, of its listeners only, asking for the ULP.
	var dumps []sockdiag.Request
	for _, r := range k.Requests {
		if r.States != 0 {
			dumps = append(dumps, r)
		}
	}
	if len(dumps) != 2 {
		t.Fatalf("%d dumps after the destroys, want 2 (ports 8080 and 9090): %+v", len(dumps), dumps)
	}
	for i, port := range []uint16{8080, 9090} {
		if r := dumps[i]; r.States != 1<<sockdiag.Listen || r.Ext == 0 || r.ID.Local.Port() != port {
			t.Errorf("dump %d: %+v, want the listeners on port %d with INET_DIAG_INFO", i, r, port)
		}
	}
}
