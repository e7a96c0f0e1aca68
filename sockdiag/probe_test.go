package sockdiag_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

func TestProbeFindsWhatTheKernelLacks(t *testing.T) {
	k := &sockdiagtest.Kernel{NoDestroy: true, NoDiag: []sockdiag.Protocol{sockdiag.UDP}, Release: sockdiag.Release{Major: 5, Minor: 10}}
	c := k.Conn()
	s := c.Probe(t.Context())
	if s.List[sockdiag.TCP] != nil || !errors.Is(s.List[sockdiag.UDP], sockdiag.ErrNoDiag(sockdiag.UDP)) {
		t.Errorf("List %v, want TCP listable and UDP without its diag module", s.List)
	}
	if !errors.Is(s.Destroy[sockdiag.TCP], sockdiag.ErrNoDestroy) || s.Destroy[sockdiag.UDP] == nil {
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
	if why, ok := sockdiag.Explain(s.List[sockdiag.UDP]); !ok || !strings.Contains(why, "CONFIG_INET_UDP_DIAG") {
		t.Errorf("Explain(%v) = %q, %v", s.List[sockdiag.UDP], why, ok)
	}
}

func TestProbeOfAFullKernel(t *testing.T) {
	k := &sockdiagtest.Kernel{Release: sockdiag.Release{Major: 6, Minor: 12}}
	s := k.Conn().Probe(t.Context())
	for _, p := range []sockdiag.Protocol{sockdiag.TCP, sockdiag.UDP} {
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
