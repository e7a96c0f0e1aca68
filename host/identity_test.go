package host

import (
	"os"
	"regexp"
	"testing"
)

func TestHere(t *testing.T) {
	if _, err := os.Stat(bootIDFile); err != nil {
		t.Skip("no /proc here:", err)
	}
	id, err := Here()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id.BootID) {
		t.Errorf("boot id %q", id.BootID)
	}
	if !regexp.MustCompile(`^net:\[[0-9]+\]$`).MatchString(string(id.NetNS)) {
		t.Errorf("network namespace %q", id.NetNS)
	}
}
