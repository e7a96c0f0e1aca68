package doctor

import (
	"errors"
	"testing"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestGather: the facts come from the namespace that in runs functions in
// (here the test's own) and from the kernel asked; an error of in is
// Gather's.
func TestGather(t *testing.T) {
	k := &sockdiagtest.Kernel{Release: sockdiag.Release{Major: 6, Minor: 11}}
	c := &census.Census{TimeWaitSockets: 3}
	calls := 0
	in := func(fn func(*sockdiag.Conn) error) error { calls++; return fn(k.Conn()) }
	f, err := Gather(t.Context(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || f.Census != c || f.Support == nil || f.Support.Release != k.Release || !f.Orphans {
		t.Errorf("facts %+v after %d calls of in", f, calls)
	}
	if f.PortRange[0] == 0 || f.PortRange[0] > f.PortRange[1] {
		t.Errorf("local port range %v", f.PortRange)
	}
	if _, ok := f.Sysctls["ipv4.tcp_fin_timeout"]; !ok {
		t.Errorf("sysctls %v lack tcp_fin_timeout", f.Sysctls)
	}
	if _, ok := f.Own[inet.TCP]; !ok {
		t.Errorf("own sockets not looked for: %+v", f.Own)
	}

	refused := errors.New("cannot enter")
	if _, err := Gather(t.Context(), c, func(func(*sockdiag.Conn) error) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("in refused: %v", err)
	}
}
