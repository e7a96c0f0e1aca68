package reap_test

import (
	"testing"

	"github.com/tcpreap/tcpreap/reap"
)

func TestParseEngine(t *testing.T) {
	for _, w := range []string{"auto", "diag", "fd"} {
		if got, err := reap.ParseEngine(w); err != nil || got != w {
			t.Errorf("ParseEngine(%q) = %q, %v", w, got, err)
		}
		if err := reap.Offered(w); err != nil {
			t.Errorf("Offered(%q): %v; this kernel offers every engine", w, err)
		}
	}
	for _, w := range []string{"", "nosuch", "FD", "fd "} {
		if _, err := reap.ParseEngine(w); err == nil {
			t.Errorf("ParseEngine(%q) took it", w)
		}
	}
}
