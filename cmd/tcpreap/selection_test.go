package main

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestNamesListen: LISTEN sockets become targets only when the state word
// names listen, or every state; a group that contains it does not.
func TestNamesListen(t *testing.T) {
	for word, want := range map[string]bool{
		"listen": true, "LISTENING": true, "all": true, "big,listen": true, "established, listen": true,
		"big": false, "connected": false, "established": false, "close_wait,time_wait": false, "bogus": false,
	} {
		if got := namesListen(word); got != want {
			t.Errorf("namesListen(%q) = %v, want %v", word, got, want)
		}
	}
}

func TestNewSelection(t *testing.T) {
	o := &options{states: []string{"close-wait", "listen"}, localPorts: []string{"5432"}, udp: true, ipv6: true,
		locals: []string{"2001:db8::/64"}, words: []string{"[2001:db8::2]:40000-40010"}, includeSelf: true}
	sel, err := newSelection(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	f := sel.filter
	if f.States != 1<<sockdiag.CloseWait|1<<sockdiag.Listen || !sel.guards.ListenNamed || sel.guards.Session != nil {
		t.Errorf("states %#x, listen named %v, session %v", f.States, sel.guards.ListenNamed, sel.guards.Session)
	}
	if len(f.Protocols) != 1 || f.Protocols[0] != inet.UDP || len(f.Families) != 1 || f.Families[0] != inet.IPv6 {
		t.Errorf("protocols %v, families %v", f.Protocols, f.Families)
	}
	if len(f.LocalPorts) != 1 || f.LocalPorts[0] != (inet.PortRange{Lo: 5432, Hi: 5432}) || len(f.Local) != 1 {
		t.Errorf("local ports %v, local %v", f.LocalPorts, f.Local)
	}
	if len(f.Peers) != 1 || f.Peers[0].Prefix.String() != "2001:db8::2/128" || f.Peers[0].Ports[0] != (inet.PortRange{Lo: 40000, Hi: 40010}) {
		t.Errorf("peers %+v", f.Peers)
	}
}

// TestParseDuration: each wrong --idle gets the sentence for its mistake.
func TestParseDuration(t *testing.T) {
	for word, want := range map[string]string{
		"90s":       "",
		"1193h":     "",
		"1194h":     "--idle 1194h is out of range: the kernel counts these times in milliseconds up to 49 days (1193h0m0s); give at most 1193h0m0s",
		"99999999h": "--idle 99999999h is out of range",
		"1e9h":      "give a duration above zero",
		"10":        "give a unit: 10s, 10m or 10h",
		"0s":        "give a duration above zero",
		"-5m":       "give a duration above zero",
		"5 minutes": "give a duration above zero",
	} {
		_, err := parseDuration("--idle", word)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("--idle %s: %v, want %q", word, err, want)
		}
	}
}
