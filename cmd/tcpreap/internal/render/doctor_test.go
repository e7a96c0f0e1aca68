package render

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/doctor"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestRemedyLine: a remedy is the command line that selects its sockets, or
// its own command.
func TestRemedyLine(t *testing.T) {
	for _, c := range []struct {
		r     doctor.Remedy
		netns string
		want  string
	}{
		{doctor.Remedy{States: []sockdiag.State{sockdiag.TimeWait}, Destination: netip.MustParseAddrPort("192.0.2.9:443")}, "", "tcpreap --state time_wait 192.0.2.9:443"},
		{doctor.Remedy{States: []sockdiag.State{sockdiag.TimeWait}, Destination: netip.MustParseAddrPort("[2001:db8::9]:443")}, "", "tcpreap --state time_wait '[2001:db8::9]:443'"},
		// A link-local destination's zone is the interface's name, as given.
		{doctor.Remedy{States: []sockdiag.State{sockdiag.TimeWait}, Destination: netip.MustParseAddrPort("[fe80::9%eth0]:443")}, "", "tcpreap --state time_wait '[fe80::9%eth0]:443'"},
		{doctor.Remedy{States: []sockdiag.State{sockdiag.CloseWait}, PID: 4711}, "", "tcpreap --pid 4711 --state close_wait"},
		{doctor.Remedy{Stalled: true}, "", "tcpreap --stalled"},
		{doctor.Remedy{Command: []string{"modprobe", "udp_diag"}}, "", "modprobe udp_diag"},
		// Of a namespace given with --netns: the run works there too, the word
		// quoted where a shell would split it. (An IPv6 destination is quoted
		// too: [...] is a pattern to a shell, and zsh refuses one that matches
		// no file.)
		{doctor.Remedy{Stalled: true}, "web1", "tcpreap --netns web1 --stalled"},
		{doctor.Remedy{Stalled: true}, "pid:4711", "tcpreap --netns pid:4711 --stalled"},
		{doctor.Remedy{Stalled: true}, "/run/netns/my ns's", `tcpreap --netns '/run/netns/my ns'\''s' --stalled`},
		{doctor.Remedy{Command: []string{"modprobe", "udp_diag"}}, "web1", "modprobe udp_diag"},
	} {
		if got := remedyLine(&c.r, c.netns); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

// TestDoctor: the text puts a remedy's command whole on a line of its
// own; the JSON says the sentence with its remedy, and the command alone.
func TestDoctor(t *testing.T) {
	findings := []doctor.Finding{
		{Check: "ports", Of: doctor.Subject{Destination: netip.MustParseAddrPort("192.0.2.9:443")}, Warn: true, Says: "8 of the 10 local ports are held for 192.0.2.9:443 (80%: 7 in TIME-WAIT); new connections to it will fail with EADDRNOTAVAIL",
			Remedy: &doctor.Remedy{Lead: "relieve it with", States: []sockdiag.State{sockdiag.TimeWait}, Destination: netip.MustParseAddrPort("192.0.2.9:443")}},
		{Check: "net.ipv4.tcp_fin_timeout", Says: "tcp_fin_timeout = 60 s"},
	}
	var text strings.Builder
	if err := Doctor(&text, findings, false, ""); err != nil {
		t.Fatal(err)
	}
	want := "WARN ports 192.0.2.9:443: 8 of the 10 local ports are held for 192.0.2.9:443 (80%: 7 in TIME-WAIT);\n" +
		"     new connections to it will fail with EADDRNOTAVAIL; relieve it with:\n" +
		"     tcpreap --state time_wait 192.0.2.9:443\n" +
		"ok   net.ipv4.tcp_fin_timeout: tcp_fin_timeout = 60 s\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}

	var b strings.Builder
	if err := Doctor(&b, findings, true, ""); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Warn     bool
		Findings []map[string]any
	}
	if err := json.Unmarshal([]byte(b.String()), &report); err != nil {
		t.Fatal(err)
	}
	ports, plain := report.Findings[0], report.Findings[1]
	if !report.Warn || ports["says"] != findings[0].Says+"; relieve it with: tcpreap --state time_wait 192.0.2.9:443" ||
		ports["remedy"] != "tcpreap --state time_wait 192.0.2.9:443" || ports["check"] != "ports" || ports["destination"] != "192.0.2.9:443" {
		t.Errorf("JSON: %s", b.String())
	}
	if _, ok := plain["pid"]; ok {
		t.Errorf("JSON of a finding about no process: %v", plain)
	}
	if _, ok := plain["remedy"]; ok || plain["says"] != "tcp_fin_timeout = 60 s" {
		t.Errorf("JSON of a finding without a remedy: %v", plain)
	}
}
