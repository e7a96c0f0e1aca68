package doctor

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// the check opens sockets on loopback.
func TestMain(m *testing.M) { ownnetns.Main(m) }

// TestCheckOwnOnKernel: the real kernel's dump shows the doctor's own TCP
// and UDP sockets, and none of them is left afterwards.
func TestCheckOwnOnKernel(t *testing.T) {
	c, err := sockdiag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	own := checkOwn(t.Context(), c)
	for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
		if o := own[p]; !o.Found || o.Err != nil || !o.Local.Addr().IsLoopback() {
			t.Errorf("%v: %+v, want found on loopback", p, o)
		}
	}
	for s, err := range c.Query(t.Context(), &sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, States: sockdiag.AllStates}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.ID.Local == own[s.Protocol].Local {
			t.Errorf("the check left its %v socket %v in %v", s.Protocol, s.ID.Local, s.State)
		}
	}
}

// TestCheckOwnMissingModule: a kernel whose dumps come back empty without
// an error (the fake, which knows none of the doctor's sockets) is a
// missing diag module, and the doctor warns with the module to load; a
// dump that fails is no such finding.
func TestCheckOwnMissingModule(t *testing.T) {
	k := &sockdiagtest.Kernel{}
	own := checkOwn(t.Context(), k.Conn())
	f := facts()
	f.Own = own
	says := map[string]Finding{}
	for _, x := range Examine(f) {
		says[x.Check] = x
	}
	for _, m := range []string{"tcp_diag", "udp_diag"} {
		if x := says[m]; !x.Warn || !strings.Contains(x.Says, "the "+m+" module is missing") || x.Remedy == nil || !slices.Equal(x.Remedy.Command, []string{"modprobe", m}) {
			t.Errorf("%s: %+v", m, x)
		}
	}

	k = &sockdiagtest.Kernel{NoDiag: []inet.Protocol{inet.UDP}}
	own = checkOwn(t.Context(), k.Conn())
	if o := own[inet.UDP]; o.Found || !errors.Is(o.Err, sockdiag.ErrNoDiag(inet.UDP)) || own[inet.TCP].Err != nil {
		t.Errorf("a UDP dump that fails: %+v", o)
	}
}

// TestExamineOwn: each outcome of the check is its sentence.
func TestExamineOwn(t *testing.T) {
	f := facts()
	f.Own = map[inet.Protocol]OwnCheck{inet.TCP: {Err: errNoLoopback}, inet.UDP: {Found: true}}
	says := map[string]Finding{}
	for _, x := range Examine(f) {
		says[x.Check] = x
	}
	if x := says["tcp_diag"]; x.Warn || !strings.Contains(x.Says, "not checked: the loopback interface is not up") {
		t.Errorf("tcp_diag without loopback: %+v", x)
	}
	if x := says["udp_diag"]; x.Warn || !strings.Contains(x.Says, "a dump found tcpreap's own") {
		t.Errorf("udp_diag found: %+v", x)
	}
}
