package main

import (
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func testPlan() *kill.Plan {
	s := func(state sockdiag.State, fam inet.Family, local, remote string, cookie sockdiag.Cookie) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, Family: fam, State: state, UID: 1000, Inode: 77,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Interface: 2, Cookie: cookie}}
	}
	return &kill.Plan{
		Targets: []sockdiag.Socket{
			s(sockdiag.CloseWait, inet.IPv4, "192.0.2.1:5432", "192.0.2.2:40000", 1<<40|5),
			s(sockdiag.Established, inet.IPv6, "[::ffff:192.0.2.1]:80", "[::ffff:192.0.2.2]:40001", 6),
			s(sockdiag.TimeWait, inet.IPv6, "[2001:db8::1]:443", "[2001:db8::2]:40002", 7),
		},
		Skipped: []kill.Skip{{Socket: s(sockdiag.Listen, inet.IPv4, "192.0.2.1:5432", "0.0.0.0:0", 8), Reason: kill.ReasonListen}},
	}
}

func TestPlanSummary(t *testing.T) {
	got := planSummary(testPlan())
	for _, want := range []string{
		"destroys 3 sockets and keeps back 1",
		"1 tcp ESTAB: the peer gets a reset",
		"1 tcp TIME-WAIT: no reset to the peer",
		"1 tcp CLOSE-WAIT: the peer gets a reset",
		"2 with peer 192.0.2.2",
		"1 with peer 2001:db8::2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yep\n": false} {
		tty := &fakeTTY{in: strings.NewReader(answer)}
		if ok, _ := confirm(t.Context(), tty, testPlan()); ok != want {
			t.Errorf("answer %q: %v; want %v", answer, ok, want)
		}
		if !strings.Contains(tty.out.String(), "destroy 3 sockets? [y/N] ") {
			t.Errorf("prompt %q", tty.out.String())
		}
	}
}

// fakeTTY is a terminal: what is typed, and what is shown.
type fakeTTY struct {
	in  io.Reader
	out bytes.Buffer
}

func (f *fakeTTY) Read(p []byte) (int, error)  { return f.in.Read(p) }
func (f *fakeTTY) Write(p []byte) (int, error) { return f.out.Write(p) }
func (f *fakeTTY) Close() error                { return nil }
