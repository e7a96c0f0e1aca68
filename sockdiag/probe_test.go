package sockdiag_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
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
	if s.TimeWaitDestroy() || s.OrphanDestroy() {
		t.Errorf("5.10 can destroy timewait (%v) or orphans (%v)", s.TimeWaitDestroy(), s.OrphanDestroy())
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
	if !s.TimeWaitDestroy() || !s.OrphanDestroy() {
		t.Error("6.12 cannot destroy timewait or orphaned sockets")
	}
	if len(k.Requests) != 0 {
		t.Errorf("the probe sent %d requests that could select a socket", len(k.Requests))
	}
}

// TestDestroyWithoutSockDestroySendsNothing: the probe shows there is no
// SOCK_DESTROY; no target is sent, each says why.
func TestDestroyWithoutSockDestroySendsNothing(t *testing.T) {
	socks := sockets(300, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), NoDestroy: true}
	for i, err := range k.Conn().Destroy(t.Context(), socks) {
		if !errors.Is(err, sockdiag.ErrNoDestroy) || !strings.Contains(err.Error(), "not attempted") {
			t.Fatalf("target %d: %v, want not attempted: no SOCK_DESTROY", i, err)
		}
	}
	if len(k.Requests) != 0 {
		t.Errorf("the kernel saw %d destroys", len(k.Requests))
	}
}

// TestDestroyStopsAtThePermission: without CAP_NET_ADMIN the first answer
// is EPERM and the rest are not sent.
func TestDestroyStopsAtThePermission(t *testing.T) {
	socks := sockets(300, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.EPERM }}
	errs := k.Conn().Destroy(t.Context(), socks)
	if len(k.Requests) != 1 {
		t.Errorf("the kernel saw %d destroys, want the first only", len(k.Requests))
	}
	if !errors.Is(errs[0], unix.EPERM) || !errors.Is(errs[0], sockdiag.ErrPermission) {
		t.Errorf("first target: %v, want EPERM meaning no permission", errs[0])
	}
	for i, err := range errs[1:] {
		if !errors.Is(err, sockdiag.ErrPermission) || !strings.Contains(err.Error(), "not attempted") {
			t.Fatalf("target %d: %v, want not attempted: no permission", i+1, err)
		}
	}
}

// TestDestroyRampsThroughGoneSockets: a long run of sockets that are already
// gone says nothing about the permission, and still costs a few round
// trips, not one per socket; the first real destroy then opens the gates.
func TestDestroyRampsThroughGoneSockets(t *testing.T) {
	live := sockets(300, sockdiag.Established, 5000)
	gone := sockets(700, sockdiag.CloseWait, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(live)}
	targets := append(slices.Clone(gone), live...)
	errs := k.Conn().Destroy(t.Context(), targets)
	for i, err := range errs {
		if i < len(gone) && !errors.Is(err, sockdiag.ErrGone) || i >= len(gone) && err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
	}
	if len(k.Sockets) != 0 {
		t.Errorf("%d sockets left", len(k.Sockets))
	}
	if k.Sends > 20 {
		t.Errorf("%d round trips for %d targets, want a ramp, not one per socket", k.Sends, len(targets))
	}
}

// TestDestroyMeaningOfEOPNOTSUPP: tcp_abort learnt timewait sockets in 6.0;
// before, EOPNOTSUPP for one (TIME_WAIT, or FIN_WAIT2 with the timewait
// timer) means only that, and the other sockets are destroyed.
func TestDestroyMeaningOfEOPNOTSUPP(t *testing.T) {
	tw := sockets(1, sockdiag.FinWait2, 1)[0]
	tw.Timer = 3
	for _, tc := range []struct {
		release sockdiag.Release
		want    error
	}{{sockdiag.Release{Major: 5, Minor: 15}, sockdiag.ErrTimeWait}, {sockdiag.Release{Major: 6, Minor: 0}, sockdiag.ErrNoDestroy}} {
		other := sockets(1, sockdiag.Established, 2)[0]
		k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{tw, other}, Release: tc.release, DestroyErr: func(s sockdiag.Socket) unix.Errno {
			if s.Timer == 3 {
				return unix.EOPNOTSUPP
			}
			return 0
		}}
		errs := k.Conn().Destroy(t.Context(), []sockdiag.Socket{tw, other})
		if !errors.Is(errs[0], tc.want) {
			t.Errorf("%v: timewait socket: %v, want %v", tc.release, errs[0], tc.want)
		}
		if tc.want == sockdiag.ErrTimeWait && errs[1] != nil {
			t.Errorf("%v: the other socket: %v, want destroyed", tc.release, errs[1])
		}
	}
}

func TestDestroyStopsWithTheContext(t *testing.T) {
	socks := sockets(10, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	c := k.Conn()
	c.Probe(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i, err := range c.Destroy(ctx, socks) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("target %d: %v, want canceled", i, err)
		}
	}
	if len(k.Requests) != 0 || len(k.Sockets) != 10 {
		t.Errorf("a canceled run sent %d destroys; %d sockets left", len(k.Requests), len(k.Sockets))
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
