package host

import (
	"strings"
	"testing"
)

func TestInterface(t *testing.T) {
	index, addrs, err := Interface("lo")
	if err != nil {
		t.Skip("no loopback interface here:", err)
	}
	if index == 0 {
		t.Errorf("lo has index 0")
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			t.Errorf("lo has address %s", a)
		}
	}
	for name, want := range map[string]string{"": "empty", "nosuchif0": `no interface named "nosuchif0"`} {
		if _, _, err := Interface(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Interface(%q): %v, want %q", name, err, want)
		}
	}
}
