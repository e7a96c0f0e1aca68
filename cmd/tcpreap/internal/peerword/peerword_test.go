package peerword

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckPeerName(t *testing.T) {
	for name, want := range map[string]string{
		"lsit": "did you mean tcpreap list", "aply": "did you mean tcpreap apply", "applly": "tcpreap apply", "list": "tcpreap list",
		"plna": "tcpreap plan", "lst": "tcpreap list", "Apply": "tcpreap apply", "lists": "tcpreap list",
		"version": "tcpreap --version", "help": "tcpreap --help",
		"dst": "ss's filters", "sport": "--sport", "dev": "--interface", "state": "--state",
		"established": "did you mean --state established", "close-wait": "--state",
	} {
		if err := Check(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want %q", name, err, want)
		}
	}
	for _, name := range []string{"db1", "db", "localhost", "ns1.example", "web-01", "pl", "apply-server", "planet", "app", "test", "host", "ks"} {
		if err := Check(name); err != nil {
			t.Errorf("Check(%q) = %v, want a host name", name, err)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"list", "list", 0}, {"lsit", "list", 1}, {"aply", "apply", 1}, {"ls", "db", 2}, {"", "ls", 2}, {"plan", "clean", 2}} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

// TestCheckPeerNameGuessedVerbs: the verbs a person reaching for ss -K, tcpkill
// or this tool's own name types first ("tcpreap kill 192.0.2.34") are looked up
// as host names today; under a wildcard DNS zone or a sinkhole that answers
// every name, each adds a peer the person never meant.
func TestCheckPeerNameGuessedVerbs(t *testing.T) {
	for _, name := range []string{"kill", "reap", "destroy", "show"} {
		if err := Check(name); err == nil {
			t.Errorf("Check(%q) = nil: it would be resolved as a host name", name)
		}
	}
}

// TestScope: a link-local PEER's interface, written as tcpreap's table,
// ss, Go or SSH_CONNECTION write it, is taken off the word and becomes the
// selection's; one interface for the whole selection.
func TestScope(t *testing.T) {
	for _, c := range []struct {
		words []string
		plain []string
		iface string
		err   string
	}{
		{words: []string{"fe80::1%eth0"}, plain: []string{"fe80::1"}, iface: "eth0"},
		{words: []string{"[fe80::1%eth0]:22"}, plain: []string{"[fe80::1]:22"}, iface: "eth0"},
		{words: []string{"[fe80::1]%eth0:22"}, plain: []string{"[fe80::1]:22"}, iface: "eth0"},
		{words: []string{"[fe80::1]%eth0"}, plain: []string{"[fe80::1]"}, iface: "eth0"},
		{words: []string{"fe80::1%eth0", "[fe80::2%eth0]:ssh"}, plain: []string{"fe80::1", "[fe80::2]:ssh"}, iface: "eth0"},
		{words: []string{"192.0.2.2", "2001:db8::2", "db1:5432"}, plain: []string{"192.0.2.2", "2001:db8::2", "db1:5432"}},
		// Not IPv6 with a zone: left for the parser to refuse.
		{words: []string{"192.0.2.1%eth0"}, plain: []string{"192.0.2.1%eth0"}},
		{words: []string{"fe80::1%"}, plain: []string{"fe80::1%"}},
		{words: []string{"fe80::1%eth0", "fe80::2%eth1"}, err: "peers fe80::1%eth0 and fe80::2%eth1 are on different interfaces (eth0, eth1); give each its own run"},
		// One interface inside the brackets and another after them: neither
		// is taken for the other.
		{words: []string{"[fe80::1%eth0]%eth1:22"}, err: "peer [fe80::1%eth0]%eth1:22 names two interfaces; write it [ADDR%IF]:PORT or [ADDR]%IF:PORT"},
		{words: []string{"[fe80::1%eth0]%eth0"}, err: "peer [fe80::1%eth0]%eth0 names two interfaces; write it [ADDR%IF]:PORT or [ADDR]%IF:PORT"},
		// An interface's name has no colon: a port was meant.
		{words: []string{"fe80::1%eth0:22"}, err: "peer fe80::1%eth0:22: an interface's name has no colon; an IPv6 peer with its interface and a port is written [fe80::1%eth0]:22"},
		{words: []string{"fe80::1%eth0:"}, err: "peer fe80::1%eth0:: an interface's name has no colon"},
		{words: []string{"fe80::1%eth0", "192.0.2.2"}, err: "peer fe80::1%eth0 is on interface eth0, which then holds for the whole selection, and peer 192.0.2.2 names none; give it a run of its own"},
	} {
		plain, zoned, err := Scope(c.words, "", false)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: %v, want %q", c.words, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(plain, c.plain) || zoned.Interface != c.iface {
			t.Errorf("%q: %q, %+v, %v; want %q on %q", c.words, plain, zoned, err, c.plain, c.iface)
		}
	}
}

// TestPortLike: an IPv6 address whose last group reads as a port gets its
// note; a bracketed one, a prefix, an address whose head is no address (or
// is ::) does not.
func TestPortLike(t *testing.T) {
	got := PortLike([]string{"2001:db8::2:5432", "[2001:db8::2]:5432", "2001:db8::5432", "2001:db8::/64", "::1", "192.0.2.2", "fe80::1:0", "db1"})
	want := []string{"note: 2001:db8::2:5432 was read as an address; for a port write [2001:db8::2]:5432"}
	if !slices.Equal(got, want) {
		t.Errorf("PortLike = %q, want %q", got, want)
	}
}

// TestScopeConflicts: a PEER's interface and --interface must agree, and
// one interface is no interface of every namespace.
func TestScopeConflicts(t *testing.T) {
	if _, _, err := Scope([]string{"fe80::1%eth0"}, "eth1", false); err == nil || err.Error() != "peer fe80::1%eth0 is on interface eth0, and --interface is eth1; give one of them" {
		t.Errorf("with --interface eth1: %v", err)
	}
	if _, _, err := Scope([]string{"fe80::1%eth0"}, "", true); err == nil || err.Error() != "peer fe80::1%eth0 names an interface of one network namespace; give it with --netns, not --all-netns" {
		t.Errorf("with --all-netns: %v", err)
	}
	if _, z, err := Scope([]string{"fe80::1%eth0"}, "eth0", false); err != nil || z.Interface != "eth0" {
		t.Errorf("with --interface eth0 too: %v", err)
	}
	if _, _, err := Scope([]string{"192.0.2.2"}, "eth1", true); err != nil {
		t.Errorf("no PEER's interface: %v", err)
	}
}

// TestHint: an IPv4 address with an interface says to give --interface.
func TestHint(t *testing.T) {
	for word, want := range map[string]string{
		"192.0.2.1%eth0":    "an interface (%eth0) goes with an IPv6 link-local address; for an IPv4 peer give 192.0.2.1 --interface eth0",
		"192.0.2.1%eth0:22": "an interface (%eth0) goes with an IPv6 link-local address; for an IPv4 peer give 192.0.2.1:22 --interface eth0",
		"db1%eth0":          "",
		"%eth0":             "",
	} {
		if got := Hint(word); got != want {
			t.Errorf("Hint(%q) = %q, want %q", word, got, want)
		}
	}
}
