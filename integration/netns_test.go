// Network namespaces: --netns by name, by path and by a process's pid reaches the sockets
// of that namespace and no other, even where another namespace has the very same
// four-tuples; --all-netns lists and destroys in every namespace, each labelled; a plan
// made with --netns is applied there, and refused once its namespace is gone.

package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// twins are two test networks whose host A each has a connection with the same four-tuple
// (192.0.2.2:40001 → 192.0.2.1:5432), and a connection with another peer that a selection
// of 192.0.2.2 must leave.
type twins struct {
	e, other       *env
	target, twin   testnet.Pair // the same tuple in e and in other
	bystander      testnet.Pair // e's connection with another peer
	otherBystander testnet.Pair
}

func newTwins(t *testing.T, port uint16) *twins {
	e := setup(t)
	other := &env{Net: testnet.New(t), t: t}
	tw := &twins{e: e, other: other}
	from := netip.AddrPortFrom(testnet.PeerV4, port)
	for _, x := range []struct {
		e              *env
		pair, bystande *testnet.Pair
	}{{e, &tw.target, &tw.bystander}, {other, &tw.twin, &tw.otherBystander}} {
		l := x.e.listen(x.e.Local, netip.AddrPortFrom(testnet.LocalV4, 5432))
		*x.pair = x.e.inbound(l, from)
		*x.bystande = x.e.inbound(l, otherPeer)
	}
	if tw.target.LocalAddr() != tw.twin.LocalAddr() || tw.target.RemoteAddr() != tw.twin.RemoteAddr() {
		t.Fatalf("the twins differ: %v→%v and %v→%v", tw.target.RemoteAddr(), tw.target.LocalAddr(), tw.twin.RemoteAddr(), tw.twin.LocalAddr())
	}
	return tw
}

// sleeper starts a process in h that lives until the test ends, and returns its pid.
func sleeper(t *testing.T, h *testnet.Host) int {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, "sleep", "300")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	return cmd.Process.Pid // ip netns exec execs sleep in place
}

// TestIntegrationNetNS runs tcpreap in host B of the other network (a namespace where
// nothing matches) with --netns naming host A of the first: the target goes, its twin in
// the other network and the bystander stay.
func TestIntegrationNetNS(t *testing.T) {
	for i, form := range []string{"name", "path", "pid"} {
		t.Run(form, func(t *testing.T) {
			tw := newTwins(t, uint16(40001+i))
			e := tw.e
			var spec, label string
			switch form {
			case "name":
				spec, label = e.Local.Name, e.Local.Name
			case "path":
				spec = "/run/netns/" + e.Local.Name
				label = spec
			case "pid":
				pid := sleeper(t, e.Local)
				spec, label = fmt.Sprintf("pid:%d", pid), fmt.Sprintf("pid:%d (sleep)", pid)
			}
			// Run from the other network's B: were --netns not obeyed, the run would
			// look there, where no socket has the peer 192.0.2.2.
			res := e.run(tw.other.Peer, bin, "--json", "--netns", spec, "-y", testnet.PeerV4.String())
			r := e.decode(res, 0)
			expectRecords(t, r, "killed", tcp("target", tw.target))
			for _, rec := range r.Sockets {
				if rec.NetNS != label {
					t.Errorf("netns %q, want %q", rec.NetNS, label)
				}
			}
			ss := e.sockets()
			expectGone(t, ss, tcp("target", tw.target))
			expectPresent(t, ss, "established", tcp("bystander", tw.bystander))
			expectAborted(t, "target", tw.target.Local)
			expectReset(t, "target", tw.target.Peer)

			others, err := tw.other.Local.Sockets()
			e.check(err)
			expectPresent(t, others, "established", tcp("twin in the other namespace", tw.twin), tcp("other bystander", tw.otherBystander))
			if err := testnet.Echo(tw.twin); err != nil {
				t.Errorf("the twin no longer carries data: %v", err)
			}
		})
	}
}

// TestIntegrationNetNSRefusals: a namespace that does not exist, a file that is not one,
// and --netns with --all-netns are bad input: exit 2, nothing destroyed.
func TestIntegrationNetNSRefusals(t *testing.T) {
	tw := newTwins(t, 40011)
	e := tw.e
	before := e.sockets()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--netns", "tcpreap-no-such-namespace", "-y", "192.0.2.2"}, `no network namespace named "tcpreap-no-such-namespace"`},
		{[]string{"--netns", "/etc/hostname", "-y", "192.0.2.2"}, "/etc/hostname is not a network namespace"},
		{[]string{"--netns", "/proc/self/ns/mnt", "-y", "192.0.2.2"}, "not a network namespace"},
		{[]string{"--netns", "pid:0", "-y", "192.0.2.2"}, "is not pid:PID"},
		{[]string{"--netns", "pid:4194305", "-y", "192.0.2.2"}, "no process 4194305"},
		{[]string{"--netns", e.Local.Name, "--all-netns", "-y", "192.0.2.2"}, "give one of them"},
		{[]string{"--all-netns", "--interface", "veth0", "-y", "192.0.2.2"}, "give it with --netns"},
	} {
		res := e.run(tw.other.Peer, append([]string{bin}, tt.args...)...)
		if res.Code != 2 || !strings.Contains(res.Stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, res.Code, res.Stderr, tt.want)
		}
	}
	expectUnchanged(t, before, e.sockets())
}

// TestIntegrationNetNSInterface: --interface names an interface of the --netns
// namespace, not of the namespace tcpreap runs in.
func TestIntegrationNetNSInterface(t *testing.T) {
	tw := newTwins(t, 40012)
	e := tw.e
	isolated, err := netnsWithout(t)
	e.check(err)
	// veth0 exists in A, not where tcpreap runs.
	res := e.run(isolated, bin, "list", "--json", "--netns", e.Local.Name, "--interface", "veth0", "--port", "5432")
	r := e.decode(res, 0)
	expectRecords(t, r, "would_kill", tcp("target", tw.target), tcp("bystander", tw.bystander))
}

// netnsWithout is a fresh network namespace with only lo, down: a place to run tcpreap
// where nothing of the tests' is.
func netnsWithout(t *testing.T) (*testnet.Host, error) {
	n := testnet.New(t)
	return n.Peer, exec.Command("ip", "-n", n.Peer.Name, "link", "del", "veth0").Run()
}

// TestIntegrationAllNetNS: in a sandbox where the host's only namespaces are the two
// twins' A (and tcpreap's own, empty), --all-netns lists both twins, each labelled with
// its namespace's name and a NetNS column in the table; a plan of the peer covers both, and
// applied, reaches both and nothing else; a destroy with --all-netns, the same.
func TestIntegrationAllNetNS(t *testing.T) {
	tw := newTwins(t, 40013)
	e := tw.e
	spaces := []*testnet.Host{e.Local, tw.other.Local}
	run := func(args ...string) testnet.Result {
		res, err := testnet.RunIsolated(spaces, append([]string{bin}, args...)...)
		e.check(err)
		t.Logf("%v → exit %d\nstdout:\n%sstderr:\n%s", args, res.Code, res.Stdout, res.Stderr)
		return res
	}

	table := run("list", "--all-netns", "--port", "5432")
	if table.Code != 0 || !strings.HasPrefix(table.Stdout, "NetNS ") {
		t.Errorf("list --all-netns: exit %d, no NetNS column:\n%s", table.Code, table.Stdout)
	}
	for _, h := range spaces {
		if n := strings.Count(table.Stdout, h.Name+" "); n != 2 {
			t.Errorf("the table has %d rows of %s, want 2", n, h.Name)
		}
	}

	r := e.decode(run("list", "--json", "--all-netns", "--port", "5432"), 0)
	got := map[string]int{}
	for _, rec := range r.Sockets {
		got[rec.NetNS]++
	}
	if want := map[string]int{e.Local.Name: 2, tw.other.Local.Name: 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sockets by namespace %v, want %v", got, want)
	}

	// A plan of both, applied in another run (tcpreap's own namespace, empty, is not in it).
	plan := run("plan", "--all-netns", testnet.PeerV4.String())
	if plan.Code != 0 || strings.Count(plan.Stdout, `"reach":`) != 2 {
		t.Fatalf("plan --all-netns: exit %d, want the two namespaces with sockets:\n%s", plan.Code, plan.Stdout)
	}
	r = e.decode(run("apply", "--json", "-y", e.writePlan(plan.Stdout)), 0)
	if r.Summary.Killed != 2 || r.Summary.Matched != 2 {
		t.Errorf("summary %+v, want 2 matched and killed", r.Summary)
	}
	ss := e.sockets()
	expectGone(t, ss, tcp("target", tw.target))
	expectPresent(t, ss, "established", tcp("bystander", tw.bystander))
	others, err := tw.other.Local.Sockets()
	e.check(err)
	expectGone(t, others, tcp("twin", tw.twin))
	expectPresent(t, others, "established", tcp("other bystander", tw.otherBystander))
	expectReset(t, "twin", tw.twin.Peer)

	// Again, at once.
	target := e.inbound(e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 5433)), peer)
	twin := tw.other.inbound(tw.other.listen(tw.other.Local, netip.AddrPortFrom(testnet.LocalV4, 5433)), peer)
	r = e.decode(run("--json", "--all-netns", "-y", testnet.PeerV4.String()), 0)
	if r.Summary.Killed != 2 || r.Summary.Matched != 2 {
		t.Errorf("summary %+v, want 2 matched and killed", r.Summary)
	}
	expectGone(t, e.sockets(), tcp("target", target))
	others, err = tw.other.Local.Sockets()
	e.check(err)
	expectGone(t, others, tcp("twin", twin))
	expectPresent(t, e.sockets(), "established", tcp("bystander", tw.bystander))
}

// TestIntegrationNetNSPlan: a plan made with --netns is applied in that namespace from
// anywhere; once the namespace is gone, apply refuses the plan with exit 2.
func TestIntegrationNetNSPlan(t *testing.T) {
	tw := newTwins(t, 40014)
	e := tw.e
	res := e.run(tw.other.Peer, bin, "plan", "--netns", e.Local.Name, testnet.PeerV4.String())
	if res.Code != 0 {
		t.Fatalf("plan: exit %d: %s", res.Code, res.Stderr)
	}
	file := e.writePlan(res.Stdout)
	r := e.decode(e.run(tw.other.Peer, bin, "apply", "--json", "-y", file), 0)
	expectRecords(t, r, "killed", tcp("target", tw.target))
	ss := e.sockets()
	expectGone(t, ss, tcp("target", tw.target))
	expectPresent(t, ss, "established", tcp("bystander", tw.bystander))
	others, err := tw.other.Local.Sockets()
	e.check(err)
	expectPresent(t, others, "established", tcp("twin", tw.twin))

	// A namespace of its own, held by nothing but its name, then removed.
	name := fmt.Sprintf("tcpreap-gone-%d", time.Now().UnixNano())
	e.check(exec.Command("ip", "netns", "add", name).Run())
	removed := false
	t.Cleanup(func() {
		if !removed {
			exec.Command("ip", "netns", "del", name).Run()
		}
	})
	res = e.run(tw.other.Peer, bin, "plan", "--netns", name, "--state", "all")
	if res.Code != 0 {
		t.Fatalf("plan: exit %d: %s", res.Code, res.Stderr)
	}
	file = e.writePlan(res.Stdout)
	e.check(exec.Command("ip", "netns", "del", name).Run())
	removed = true
	res = e.run(tw.other.Peer, bin, "apply", "--all", "-y", file)
	if res.Code != 2 || !strings.Contains(res.Stderr, "no longer exists") {
		t.Errorf("apply of a plan whose namespace is gone: exit %d, %q; want 2 and \"no longer exists\"", res.Code, res.Stderr)
	}
}

// TestIntegrationAllNetNSUnprivileged: without CAP_SYS_ADMIN no other namespace can be
// entered: list --all-netns lists what it can (its own), says in one line which it passed over, and
// exits 0; list --netns of one it cannot enter fails (exit 1); a destroy cannot happen at
// all (exit 1) and nothing is destroyed.
func TestIntegrationAllNetNSUnprivileged(t *testing.T) {
	tw := newTwins(t, 40015)
	e := tw.e
	spaces := []*testnet.Host{e.Local, tw.other.Local}
	before := e.sockets()
	res, err := testnet.RunIsolated(spaces, slices.Concat(nobody, []string{bin, "list", "--all-netns"})...)
	e.check(err)
	t.Logf("list --all-netns as nobody → exit %d\nstdout:\n%sstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	// One line for the namespaces passed over alike, naming each.
	var passed []string
	for line := range strings.Lines(res.Stderr) {
		if strings.Contains(line, "passed over") {
			passed = append(passed, line)
		}
	}
	if len(passed) != 1 || !strings.Contains(passed[0], "network namespaces were passed over") {
		t.Errorf("want one line of the namespaces passed over: %q", res.Stderr)
	}
	for _, h := range spaces {
		if len(passed) == 0 || !strings.Contains(passed[0], h.Name) {
			t.Errorf("no word of %s passed over: %q", h.Name, res.Stderr)
		}
	}
	if res.Code != 0 || strings.Contains(res.Stdout, "192.0.2.2") {
		t.Errorf("exit %d, stdout %q; want 0 and none of the namespaces' sockets", res.Code, res.Stdout)
	}
	// One namespace named by itself is the whole listing: not entering it is a failure,
	// not an empty list.
	res, err = testnet.RunIsolated(spaces, slices.Concat(nobody, []string{bin, "list", "--netns", tw.other.Local.Name})...)
	e.check(err)
	if res.Code != 1 || !strings.Contains(res.Stderr, "CAP_SYS_ADMIN") || strings.Contains(res.Stderr, "passed over") {
		t.Errorf("list --netns %s as nobody: exit %d, %q; want 1 and a sentence on the permission", tw.other.Local.Name, res.Code, res.Stderr)
	}
	res, err = testnet.RunIsolated(spaces, slices.Concat(nobody, []string{bin, "--all-netns", "-y", testnet.PeerV4.String()})...)
	e.check(err)
	if res.Code == 0 || res.Code == 2 {
		t.Errorf("a destroy as nobody: exit %d (%q), want a failure", res.Code, res.Stderr)
	}
	expectUnchanged(t, before, e.sockets())
}

// TestIntegrationAllNetNSReachesAllOrNone: a destroy over every namespace by an operator
// who may enter namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN) but not look at another
// user's process (no CAP_SYS_PTRACE) cannot know every namespace: it destroys nothing
// anywhere and exits 1, naming the process it could not look at; a list goes on
// with a warning.
func TestIntegrationAllNetNSReachesAllOrNone(t *testing.T) {
	tw := newTwins(t, 40016)
	e := tw.e
	spaces := []*testnet.Host{e.Local, tw.other.Local}
	before := e.sockets()
	// A process of root's beside tcpreap, in the sandbox's PID namespace: its
	// namespace is one the operator cannot look at.
	caps := "+sys_admin,+net_admin,+dac_override"
	operator := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=" + caps, "--ambient-caps=" + caps}
	run := func(args ...string) testnet.Result {
		script := `sleep 30 & exec "$@"`
		res, err := testnet.RunIsolated(spaces, slices.Concat([]string{"sh", "-c", script, "sh"}, operator, []string{bin}, args)...)
		e.check(err)
		t.Logf("%v → exit %d\nstdout:\n%sstderr:\n%s", args, res.Code, res.Stdout, res.Stderr)
		return res
	}
	res := run("--all-netns", "-y", testnet.PeerV4.String())
	if res.Code != 1 || !strings.Contains(res.Stderr, "(sleep)") || !strings.Contains(res.Stderr, "nothing is done in any namespace") {
		t.Errorf("a destroy that cannot see every namespace: exit %d, %q; want 1, naming the sleep it could not look at", res.Code, res.Stderr)
	}
	expectUnchanged(t, before, e.sockets())
	// Its dry run rehearses it: the same refusal, not a plan of the namespaces it
	// could look at, which the real run would not carry out.
	if res := run("-n", "--all-netns", testnet.PeerV4.String()); res.Code != 1 || !strings.Contains(res.Stderr, "nothing is done in any namespace") {
		t.Errorf("-n --all-netns: exit %d, %q; want 1 as the real run", res.Code, res.Stderr)
	}
	if res := run("list", "--all-netns", testnet.PeerV4.String()); res.Code != 0 || !strings.Contains(res.Stderr, "warning: could not look at") {
		t.Errorf("list: exit %d, %q; want 0 and a warning", res.Code, res.Stderr)
	}
}

// TestIntegrationAllNetNSThreads: a namespace that only a thread of a process is in (a
// Go program or a CNI plugin that entered it on a locked thread), reached by no name
// and by no process's own namespace, is one of every namespace: --all-netns lists its
// sockets and destroys them, instead of reporting nothing matched there.
func TestIntegrationAllNetNSThreads(t *testing.T) {
	e := setup(t)
	self, err := os.Executable()
	e.check(err)
	ready := filepath.Join(t.TempDir(), "ready")
	const port = "40019"
	// The helper (this test binary, see holdThreadNetNS) runs in the sandbox, so that
	// its thread is one of the sandbox's processes'.
	script := `"$0" & helper=$!
i=0; while [ ! -e "$READY" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
"$@"; code=$?
kill $helper
exit $code`
	run := func(args ...string) testnet.Result {
		argv := slices.Concat([]string{"env", threadNetNSEnv + "=" + port, threadNetNSReadyEnv + "=" + ready, "READY=" + ready,
			"sh", "-c", script, self, bin}, args)
		res, err := testnet.RunIsolated([]*testnet.Host{e.Local}, argv...)
		e.check(err)
		t.Logf("%v → exit %d\nstdout:\n%sstderr:\n%s", args, res.Code, res.Stdout, res.Stderr)
		os.Remove(ready)
		return res
	}
	r := e.decode(run("list", "--json", "--all-netns", "--state", "listen", "--port", port), 0)
	if len(r.Sockets) != 1 {
		t.Errorf("list --all-netns: %d sockets, want the listener of the thread's namespace", len(r.Sockets))
	}
	r = e.decode(run("--json", "-y", "--no-audit", "--all-netns", "--state", "listen", "--port", port), 0)
	if r.Summary.Matched != 1 || r.Summary.Killed != 1 {
		t.Errorf("destroy --all-netns: summary %+v, want the thread's listener matched and killed", r.Summary)
	}
}
