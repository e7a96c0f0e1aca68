package reap_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// they make, find and destroy real sockets there, and never touch one of
// the machine's.
func TestMain(m *testing.M) { ownnetns.Main(m) }

func inside(t *testing.T) {
	t.Helper()
	if !ownnetns.Inside() {
		t.Skip("needs root, for a network namespace of its own")
	}
}

// pairs opens n connections to a listener of its own on 127.0.0.1 and
// returns the listener's port and both ends of each connection.
func pairs(t *testing.T, n int) (uint16, []net.Conn, []net.Conn) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // SOCK_DESTROY refuses MPTCP sockets
	ln, err := lc.Listen(t.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var clients, servers []net.Conn
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		clients, servers = append(clients, c), append(servers, s)
	}
	return uint16(ln.Addr().(*net.TCPAddr).Port), clients, servers
}

// byPort selects the established sockets whose local port is port.
func byPort(port uint16) *reap.Selection {
	return &reap.Selection{Filter: sockdiag.Filter{States: 1 << sockdiag.Established,
		LocalPorts: []inet.PortRange{{Lo: port, Hi: port}}}, IncludeSelf: true}
}

// reset reports whether a read on c ends with a reset from the peer.
func reset(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, syscall.ECONNRESET)
}

// TestQueryExecute: a Query plans exactly the selected sockets, a dry run
// destroys none of them, Execute destroys them all with progress told, and
// their peers get a reset while the connections of another port live on.
func TestQueryExecute(t *testing.T) {
	inside(t)
	port, clients, _ := pairs(t, 3)
	other, otherClients, _ := pairs(t, 1)
	run, err := reap.Query(t.Context(), byPort(port), reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if run.Targets() != 3 || run.Skipped() != 0 {
		t.Fatalf("%d targets, %d skipped; want the 3 server ends", run.Targets(), run.Skipped())
	}
	dry := run.DryRun()
	if sum := dry.Summary(); !dry.DryRun || sum.WouldKill != 3 || dry.Labelled() {
		t.Errorf("dry run: %+v, labelled %v", sum, dry.Labelled())
	}
	for r := range dry.Results() {
		if r.Socket.ID.Local.Port() != port {
			t.Errorf("the plan has %v, not on port %d", r.Socket.ID.Local, port)
		}
	}
	var settled atomic.Int64
	rep := run.Execute(t.Context(), reap.ExecuteOptions{Progress: func(n int) { settled.Add(int64(n)) }})
	if sum := rep.Summary(); sum.Killed != 3 || sum.Matched != 3 {
		t.Errorf("execute: %+v, want 3 killed", sum)
	}
	if settled.Load() != 3 {
		t.Errorf("progress told %d settled, want 3", settled.Load())
	}
	for i, c := range clients {
		if !reset(c) {
			t.Errorf("client %d got no reset", i)
		}
	}
	again, err := reap.Query(t.Context(), byPort(port), reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Targets() != 0 {
		t.Errorf("%d sockets still on port %d", again.Targets(), port)
	}
	if _, err := otherClients[0].Write([]byte("x")); err != nil {
		t.Errorf("the connection on port %d, not selected, was cut: %v", other, err)
	}
}

// TestOwnersAndInfo: an owner selector selects the sockets this process
// holds and none for a process that holds none; tcp_info is read when asked.
func TestOwnersAndInfo(t *testing.T) {
	inside(t)
	port, _, _ := pairs(t, 2)
	sel := byPort(port)
	sel.Owners = &reap.Owners{PIDs: []int{os.Getpid()}}
	sel.WantInfo = true
	run, err := reap.Query(t.Context(), sel, reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if run.Targets() != 2 || len(run.Owners) == 0 {
		t.Fatalf("by this pid: %d targets, %d owners read; want 2", run.Targets(), len(run.Owners))
	}
	for s := range run.Sockets() {
		if _, ok := run.Infos[s.ID.Cookie]; !ok {
			t.Errorf("no tcp_info for %v", s.ID.Local)
		}
	}
	sel.Owners = &reap.Owners{PIDs: []int{1 << 22}} // above pid_max: no process
	none, err := reap.Query(t.Context(), sel, reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if none.Targets() != 0 {
		t.Errorf("by a pid that holds nothing: %d targets", none.Targets())
	}
}

// TestReportOwnersWhenAsked: the owners an owner selector reads to select
// are not shown with the results: a report carries them only when the
// selection asked to show them (list -p), a dry run and a destroy alike.
func TestReportOwnersWhenAsked(t *testing.T) {
	inside(t)
	port, _, _ := pairs(t, 1)
	for _, want := range []bool{false, true} {
		sel := byPort(port)
		sel.Owners = &reap.Owners{PIDs: []int{os.Getpid()}}
		sel.WantOwners = want
		run, err := reap.Query(t.Context(), sel, reap.Where{}, reap.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if run.Targets() != 1 {
			t.Fatalf("WantOwners %v: %d targets, want 1", want, run.Targets())
		}
		if got := run.DryRun().Owners != nil; got != want {
			t.Errorf("WantOwners %v: the dry run's report carries owners: %v", want, got)
		}
		if got := run.Execute(t.Context(), reap.ExecuteOptions{}).Owners != nil; got != want {
			t.Errorf("WantOwners %v: the destroy's report carries owners: %v", want, got)
		}
		run.Close()
		port, _, _ = pairs(t, 1)
	}
}

// TestFromFile: a plan written to a file and read back destroys what it
// planned that still exists, reports a socket closed since as gone, and
// touches nothing else.
func TestFromFile(t *testing.T) {
	inside(t)
	port, clients, servers := pairs(t, 2)
	run, err := reap.Query(t.Context(), byPort(port), reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := run.File([]string{"tcpreap", "plan"}, false)
	run.Close()
	if err != nil {
		t.Fatal(err)
	}
	here, err := host.Here()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := planfile.Write(&buf, f, here); err != nil {
		t.Fatal(err)
	}
	read, err := planfile.Read(&buf, here)
	if err != nil {
		t.Fatal(err)
	}
	servers[1].Close() // closed after the plan: its socket goes to FIN_WAIT, then away
	clients[1].Close()
	late, _, _ := pairs(t, 1) // made after the plan: never in it
	applied, err := reap.FromFile(t.Context(), read, true, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer applied.Close()
	rep := applied.Execute(t.Context(), reap.ExecuteOptions{})
	sum := rep.Summary()
	if sum.Matched != 2 || sum.Killed+sum.Gone+sum.Skipped != 2 || sum.Failed != 0 || sum.Killed < 1 {
		t.Errorf("apply: %+v, want the live socket killed and the closed one gone or kept back", sum)
	}
	if !reset(clients[0]) {
		t.Error("the planned connection got no reset")
	}
	check, err := reap.Query(t.Context(), byPort(late), reap.Where{}, reap.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	if check.Targets() != 1 {
		t.Errorf("the connection made after the plan: %d sockets, want it alive", check.Targets())
	}
}

// TestInputErrors: a namespace that does not exist and an interface this
// one lacks are input errors, named by what was given.
func TestInputErrors(t *testing.T) {
	inside(t)
	for _, tc := range []struct {
		sel   *reap.Selection
		where reap.Where
		of    reap.Input
	}{
		{&reap.Selection{}, reap.Where{NetNS: "tcpreap-no-such-namespace"}, reap.InputNetNS},
		{&reap.Selection{Interface: "nosuch0"}, reap.Where{}, reap.InputInterface},
		{&reap.Selection{Interface: "lo"}, reap.Where{All: true}, reap.InputInterface},
		{&reap.Selection{Interface: "nosuch0"}, reap.Where{NetNS: "/proc/self/ns/net"}, reap.InputInterface},
	} {
		run, err := reap.Query(t.Context(), tc.sel, tc.where, reap.QueryOptions{})
		var ie *reap.InputError
		if !errors.As(err, &ie) || ie.Of != tc.of {
			t.Errorf("%+v %+v: %v, want an input error of %d", tc.sel, tc.where, err, tc.of)
		}
		if err != nil && strings.Count(err.Error(), "in network namespace") > 1 {
			t.Errorf("%+v %+v: %q names its namespace more than once", tc.sel, tc.where, err)
		}
		if run != nil {
			run.Close()
		}
	}
}

// TestSelectionHasSelector: owners and an interface narrow a selection, a
// filter that takes in everything does not.
func TestSelectionHasSelector(t *testing.T) {
	all := sockdiag.Filter{Peers: []inet.Endpoint{{Prefix: netip.MustParsePrefix("0.0.0.0/0")}, {Prefix: netip.MustParsePrefix("::/0")}}}
	for _, tc := range []struct {
		sel  reap.Selection
		want bool
	}{
		{reap.Selection{}, false},
		{reap.Selection{Filter: all}, false},
		{reap.Selection{Owners: &reap.Owners{PIDs: []int{1}}}, true},
		{reap.Selection{Interface: "eth0"}, true},
		{reap.Selection{Filter: sockdiag.Filter{States: 1 << sockdiag.CloseWait}}, true},
	} {
		if got := tc.sel.HasSelector(); got != tc.want {
			t.Errorf("%+v: HasSelector %v, want %v", tc.sel, got, tc.want)
		}
	}
}

// TestParseOwners: each word of an owner selector is checked, and an error
// starts with the word, which the caller names the option of.
func TestParseOwners(t *testing.T) {
	// Catch-alls, written as "" or otherwise: no selection, refused.
	for _, w := range []string{".*", ".", ".+", `\S`, `[\s\S]`, "(?s).", `\w|\W`, "^", "x*", "[^/]|/", "^.*$"} {
		if _, err := reap.ParsePatterns([]string{w}); err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("%q matches every", w)) {
			t.Errorf("%s: %v, want it refused as matching every name", w, err)
		}
	}
	// Patterns that together match every name are alternatives that select
	// every process as much as one catch-all does: refused, the error naming
	// them.
	// (One of them alone may match every process running where the test
	// runs: then it is refused alone.)
	for _, ws := range [][]string{{"^[a-m]", "^[^a-m]"}, {"^[a-h]", "^[i-q]", "^[^a-q]"}, {"[0-9]", "^[^0-9]+$"}} {
		if _, err := reap.ParsePatterns(ws); err == nil || !strings.Contains(err.Error(), "match every command name") {
			t.Errorf("%q: %v, want them refused as matching every name together", ws, err)
		}
	}
	if _, err := reap.ParsePatterns([]string{"^java$", "^python"}); err != nil {
		t.Errorf("two narrow patterns: %v", err)
	}
	// Patterns of some names only, one value each, commas and all.
	for _, w := range []string{"^java$", "java|python", "^kworker/", "^sshd", "a{2,3}", "^(leaky|other)-app$"} {
		if _, err := reap.ParsePatterns([]string{w}); err != nil {
			t.Errorf("%s: %v", w, err)
		}
	}
	if _, err := reap.ParseCommands([]string{"a-name-longer-than-15"}); err == nil || !strings.Contains(err.Error(), `"a-name-longer-t"`) {
		t.Errorf("long name: %v", err)
	}
	if pids, err := reap.ParsePIDs([]string{fmt.Sprint(os.Getpid())}); err != nil || pids[0] != os.Getpid() {
		t.Errorf("own pid: %v %v", pids, err)
	}
	for _, w := range []string{"0", "12x", "4194305"} {
		if _, err := reap.ParsePIDs([]string{w}); err == nil || !strings.Contains(err.Error(), strings.Trim(w, "x")) {
			t.Errorf("pid %q: %v", w, err)
		}
	}
}
