// The bpf engine: sockets destroyed by socket iterators that call bpf_sock_destroy for
// the planned cookies, compared with SOCK_DESTROY's diag engine result for result.

package integration

import (
	"bytes"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/integration/testnet"
	"github.com/tcpreap/tcpreap/planfile"
)

// TestIntegrationEngineBPF destroys the same population with --engine diag and with
// --engine bpf, every state named, and compares them result for result: every
// connection and listener killed by both, each result naming its engine; the TIME_WAIT
// socket, which bpf_sock_destroy cannot take (it is no full socket), refused by the bpf
// engine and said so (exit 1) and still there. The kernel shows none of the killed ones
// afterwards, and every peer of a TCP connection gets a reset from either engine; with
// auto, the diag engine alone acts where the kernel has SOCK_DESTROY.
func TestIntegrationEngineBPF(t *testing.T) {
	if major, minor := kernelVersion(t); major < 6 || major == 6 && minor < 5 {
		t.Skip("the bpf engine needs Linux 6.5 (bpf_sock_destroy)")
	}
	e := setup(t)
	run := e.compareEngines("bpf")
	b, bpfPop, diag, bpf, rb := run.other, run.pop, run.diag, run.got, run.report
	for key, d := range diag {
		x := bpf[key]
		if key == "time_wait" {
			if x.action != "failed" || x.engine != "bpf" || !strings.Contains(x.err, "bpf_sock_destroy cannot take") {
				t.Errorf("time_wait by bpf: %+v, want failed by bpf, as it is no full socket", x)
			}
			continue
		}
		if key == "unconnected udp" {
			expectUnconnectedKept(t, d, x)
			continue
		}
		if d != (outcome{action: "killed", engine: "diag"}) || x != (outcome{action: "killed", engine: "bpf"}) {
			t.Errorf("%s: diag %+v, bpf %+v; want killed by each", key, d, x)
		}
	}
	if rb.Summary != (testnet.Summary{Matched: 16, Killed: 14, Failed: 1, Skipped: 1}) {
		t.Errorf("bpf summary %+v", rb.Summary)
	}
	cs := bpfPop.conns()
	killed := slices.DeleteFunc(slices.Clone(cs), func(c conn) bool { return c.name == "time_wait" || c.name == "unconnected udp" })
	ss := b.sockets()
	expectGone(t, ss, killed...)
	expectKept(t, ss, bpfPop.unconnected)
	expectPresent(t, ss, "time_wait", tcp("time_wait", bpfPop.timeWait))
	for _, s := range ss {
		if s.State == "listen" {
			t.Errorf("a listener is still there: %v", s)
		}
	}
	for _, p := range []struct {
		name string
		peer net.Conn
	}{{"established", bpfPop.est.Peer}, {"outbound", bpfPop.out.Peer}, {"ipv6", bpfPop.v6.Peer},
		{"v4-mapped", bpfPop.mapped.Peer}, {"shared", bpfPop.shared.Peer}} {
		expectReset(t, p.name, p.peer)
	}

	// From another namespace (--netns): the walk runs on a thread that entered the
	// namespace of the plan, and reaches its sockets there.
	c := &env{Net: testnet.New(t), t: t}
	cPop := c.enginePop()
	r := c.decode(c.run(c.Peer, bin, "--json", "--netns", c.Local.Name, "--engine", "bpf", "-y", "--state", "established", testnet.PeerV4.String()), 0)
	expectRecords(t, r, "killed", tcp("established", cPop.est), tcp("outbound", cPop.out), tcp("v4-mapped", cPop.mapped))
	for _, rec := range r.Sockets {
		if rec.Engine != "bpf" {
			t.Errorf("--netns: %+v, want the bpf engine", rec)
		}
	}
	expectGone(t, c.sockets(), tcp("established", cPop.est), tcp("outbound", cPop.out), tcp("v4-mapped", cPop.mapped))
	expectReset(t, "established, from another namespace", cPop.est.Peer)
}

// TestIntegrationEngineBPFHeldLock: the bpf engine's walk takes each socket's lock, and
// one an application holds stops it in the kernel. tcpreap gives the walk a deadline,
// then looks its targets up again and reports: it never hangs. The connection whose
// lock is held stays until it is released; the run exits 1.
func TestIntegrationEngineBPFHeldLock(t *testing.T) {
	if major, minor := kernelVersion(t); major < 6 || major == 6 && minor < 5 {
		t.Skip("the bpf engine needs Linux 6.5 (bpf_sock_destroy)")
	}
	e := setup(t)
	held := e.inbound(e.listenV4(), peer)
	release := holdLock(t, held)
	start := time.Now()
	stdout, _, code := e.tcpreapHeld(release, false, "--json", "--no-audit", "-y", "--engine", "bpf", "--state", "established", testnet.PeerV4.String())
	took := time.Since(start)
	if code != 1 {
		t.Errorf("exit %d, want 1: the held socket was not destroyed", code)
	}
	if took > time.Minute {
		t.Errorf("tcpreap took %v behind a held lock, want its deadline", took)
	}
	r, err := testnet.ParseReport(stdout)
	e.check(err)
	for _, rec := range r.Sockets {
		if rec.Cookie == held.Cookie && rec.Action == "killed" {
			t.Errorf("the socket whose lock is held: %+v, reported killed", rec)
		}
	}
}

// TestIntegrationEngineBPFStuckWalk: a plan of two namespaces applied with the bpf engine,
// the first with a connection whose lock an application holds. The first namespace's walk
// stops on that lock and outlives its deadline: its targets are pending (the walk may
// still destroy them), not failed. The second namespace's walk does not wait behind it: its
// target is killed, and the whole run takes one deadline, not two.
func TestIntegrationEngineBPFStuckWalk(t *testing.T) {
	if major, minor := kernelVersion(t); major < 6 || major == 6 && minor < 5 {
		t.Skip("the bpf engine needs Linux 6.5 (bpf_sock_destroy)")
	}
	stuck := setup(t)
	next := &env{Net: testnet.New(t), t: t}
	held := stuck.inbound(stuck.listenV4(), peer)
	other := next.inbound(next.listenV4(), peer)

	// One plan file of both namespaces, each planned by name from tcpreap's own
	// namespace (a plan destroys nothing).
	here, err := host.Here()
	stuck.check(err)
	var f *planfile.File
	for _, e := range []*env{stuck, next} {
		out, err := exec.Command(bin, "plan", "--netns", e.Local.Name, "--state", "established", testnet.PeerV4.String()).Output()
		stuck.check(err)
		part, err := planfile.Read(bytes.NewReader(out), here)
		stuck.check(err)
		if f == nil {
			f = part
		} else {
			f.Parts = append(f.Parts, part.Parts...)
		}
	}
	var text strings.Builder
	stuck.check(planfile.Write(&text, f, here))
	path := stuck.writePlan(text.String())

	release := holdLock(t, held)
	start := time.Now()
	stdout, _, code := stuck.tcpreapHeld(release, false, "apply", "--json", "--no-audit", "-y", "--engine", "bpf", path)
	took := time.Since(start)
	if code != 1 {
		t.Errorf("exit %d, want 1: a target is pending", code)
	}
	if took > bpfStuckDeadline+5*time.Second {
		t.Errorf("the run took %v, want one walk's deadline (%v) and little more: the second namespace waited behind the first", took.Round(time.Millisecond), bpfStuckDeadline)
	}
	r, err := testnet.ParseReport(stdout)
	stuck.check(err)
	for _, rec := range r.Sockets {
		switch rec.Cookie {
		case held.Cookie:
			if rec.Action != "pending" || rec.Engine != "bpf" || !strings.Contains(rec.Error, "may still destroy") {
				t.Errorf("the socket whose lock is held: %+v, want pending by bpf", rec)
			}
		case other.Cookie:
			if rec.Action != "killed" || rec.Engine != "bpf" {
				t.Errorf("the second namespace's target: %+v, want killed by bpf", rec)
			}
		}
	}
	if r.Summary.Matched != 2 {
		t.Errorf("summary %+v, want both targets", r.Summary)
	}
	expectGone(t, next.sockets(), tcp("the second namespace's target", other))
}

// bpfStuckDeadline is how long the bpf engine gives a walk of a namespace.
const bpfStuckDeadline = 10 * time.Second
