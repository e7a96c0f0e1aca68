package peerword

import (
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
