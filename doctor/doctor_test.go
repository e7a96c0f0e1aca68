package doctor

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func facts() Facts {
	return Facts{
		Support: &sockdiag.Support{Release: sockdiag.Release{Major: 5, Minor: 15},
			List:    map[inet.Protocol]error{inet.TCP: nil, inet.UDP: nil},
			Destroy: map[inet.Protocol]error{inet.TCP: nil, inet.UDP: sockdiag.ErrNoDestroy}},
		Sysctls: map[string]string{"ipv4.tcp_retries2": "15", "ipv4.tcp_tw_reuse": "0"},
		Census: &census.Census{
			PortsHeld: []census.DestinationCount{{Destination: netip.MustParseAddrPort("192.0.2.9:443"), Sockets: 8}, {Destination: netip.MustParseAddrPort("192.0.2.8:80"), Sockets: 2}},
			TimeWait:  []census.DestinationCount{{Destination: netip.MustParseAddrPort("192.0.2.9:443"), Sockets: 7}},
			CloseWait: []census.Holder{{PID: 4711, Command: "postgres", Sockets: 9, CloseWait: 9, CloseWaitPort: 5432}},
		},
		PortRange: [2]uint16{40000, 40009},
	}
}

// TestExamine: each fact becomes its finding, warnings where one must act.
func TestExamine(t *testing.T) {
	findings := Examine(facts())
	says := map[string]Finding{}
	for _, f := range findings {
		if f.Of != (Subject{}) {
			says[f.Check+" "+f.Of.String()] = f // several findings of a check
			if strings.ContainsAny(f.Check, " []0123456789") {
				t.Errorf("check %q is not a stable key: what it is about belongs in Of", f.Check)
			}
			continue
		}
		says[f.Check] = f
	}
	for check, want := range map[string]struct {
		warn bool
		has  string
	}{
		"sock_destroy_tcp":          {false, "can destroy tcp sockets"},
		"sock_destroy_udp":          {true, "cannot be destroyed"},
		"time_wait_destroy":         {true, "cannot be destroyed (Linux 5.15"},
		"orphan_destroy":            {false, "looks again"},
		"net.ipv4.tcp_tw_recycle":   {false, "removed in Linux 4.12"},
		"net.ipv4.tcp_retries2":     {false, "about 15 minutes"},
		"net.ipv4.tcp_tw_reuse":     {false, "off"},
		"ports 192.0.2.9:443":       {true, "8 of the 10 local ports are held for 192.0.2.9:443 (80%: 7 in TIME-WAIT)"},
		"close_wait postgres[4711]": {true, "holds 9 CLOSE-WAIT sockets on :5432"},
	} {
		f, ok := says[check]
		if !ok || f.Warn != want.warn || !strings.Contains(f.Says, want.has) {
			t.Errorf("%s: %+v (found %v), want warn %v and %q", check, f, ok, want.warn, want.has)
		}
	}
	for check, want := range map[string]Remedy{
		"ports 192.0.2.9:443":       {Lead: "relieve it with", States: []sockdiag.State{sockdiag.TimeWait}, Destination: netip.MustParseAddrPort("192.0.2.9:443")},
		"close_wait postgres[4711]": {States: []sockdiag.State{sockdiag.CloseWait}, PID: 4711},
		"net.ipv4.tcp_retries2":     {Lead: "cut it at once with", Stalled: true},
	} {
		r := says[check].Remedy
		if r == nil || !slices.Equal(r.States, want.States) || r.Destination != want.Destination || r.PID != want.PID ||
			r.Stalled != want.Stalled || len(r.Command) != 0 || r.Lead == "" || want.Lead != "" && r.Lead != want.Lead {
			t.Errorf("%s: remedy %+v, want %+v", check, r, want)
		}
	}
	for _, f := range findings {
		if strings.Contains(f.Says, "--") || f.Remedy != nil && strings.Contains(f.Remedy.Lead, "--") {
			t.Errorf("%s names a flag in its words: %+v", f.Check, f)
		}
	}
	if _, ok := says["ports 192.0.2.8:80"]; ok {
		t.Error("a destination holding 20% of the ports is reported")
	}
	if !Warns(findings) {
		t.Error("Warns = false")
	}
	healthy := facts()
	healthy.Support.Release = sockdiag.Release{Major: 6, Minor: 11}
	healthy.Support.Destroy[inet.UDP] = nil
	healthy.Orphans = true
	healthy.Census = &census.Census{}
	if f := Examine(healthy); Warns(f) {
		t.Errorf("a healthy host warns: %+v", f)
	}
}

// TestEngineFindings: each engine beside SOCK_DESTROY's is said offered,
// with what it does, or not offered, with why.
func TestEngineFindings(t *testing.T) {
	f := facts()
	f.Engines = map[string]string{"fd": ""}
	says := func(f Facts) string {
		for _, fi := range Examine(f) {
			if fi.Check == "engine_fd" {
				return fi.Says
			}
		}
		return ""
	}
	if got := says(f); !strings.Contains(got, "fd engine is offered") || !strings.Contains(got, "pidfd_getfd") {
		t.Errorf("an offered fd engine: %q", got)
	}
	f.Engines["fd"] = "this kernel has no pidfd_getfd (Linux 5.6 and later have)"
	if got := says(f); !strings.Contains(got, "not offered here: this kernel has no pidfd_getfd") {
		t.Errorf("an fd engine not offered: %q", got)
	}
	if got := says(facts()); got != "" {
		t.Errorf("no engines looked at, yet: %q", got)
	}
}

// TestMPTCPFinding: with MPTCP on, doctor says what stops an MPTCP listener:
// the fd engine where it is offered, nothing where it is not.
func TestMPTCPFinding(t *testing.T) {
	says := func(fd string) string {
		f := facts()
		f.Sysctls = map[string]string{"mptcp.enabled": "1"}
		f.Engines = map[string]string{"fd": fd}
		for _, fi := range Examine(f) {
			if fi.Check == "net.mptcp.enabled" {
				return fi.Says
			}
		}
		return ""
	}
	if got := says(""); !strings.Contains(got, "SOCK_DESTROY refuses those listeners; the fd engine") {
		t.Errorf("MPTCP with the fd engine offered: %q", got)
	}
	if got := says("this kernel has no pidfd_getfd (Linux 5.6 and later have)"); !strings.Contains(got, "no engine offered here stops them") {
		t.Errorf("MPTCP without the fd engine: %q", got)
	}
}
