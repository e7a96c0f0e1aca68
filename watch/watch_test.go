package watch

import (
	"net"
	"strings"
	"testing"
)

// TestExposed: metrics served on every address of the host are said, once,
// at start; on one address, loopback or not, they are not.
func TestExposed(t *testing.T) {
	for _, c := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:9737", false},
		{"[::1]:9737", false},
		{"192.0.2.1:9737", false},
		{"0.0.0.0:9737", true},
		{"[::]:9737", true},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		got := exposed(addr)
		if (got != "") != c.warn || c.warn && !strings.Contains(got, "every address") {
			t.Errorf("exposed(%s) = %q, want a warning: %v", c.addr, got, c.warn)
		}
	}
}

// TestSaidChanged: a line said once is not said again while it stays, is
// said again once it changed, and each key (the census, each policy)
// keeps its own.
func TestSaidChanged(t *testing.T) {
	s := said{}
	warn := []string{"warning: the ssh session may not be fully protected: permission denied"}
	for i, c := range []struct {
		key   string
		lines []string
		want  bool
	}{
		{"leak", warn, true},
		{"leak", warn, false},
		{"", warn, true},
		{"other", nil, false},
		{"leak", nil, true},
		{"leak", nil, false},
		{"leak", warn, true},
	} {
		if got := s.changed(c.key, c.lines); got != c.want {
			t.Errorf("%d: changed(%q, %q) = %v, want %v", i, c.key, c.lines, got, c.want)
		}
	}
}
