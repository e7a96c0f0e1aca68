// tcpreap conntrack --reset on a router between a client and a server: both ends of each
// planned flow reset, checked with what the applications saw, what ss and conntrack -L
// show afterwards, and what tcpdump captured on every interface of the three hosts.

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationConntrackReset: with nf_conntrack_tcp_loose 0 and 1, a cut with --reset of
// an idle DNATed IPv4 flow, a DNATed IPv4 flow carrying data both ways, an idle IPv6 flow
// and a UDP flow resets both ends of each TCP flow: the client's and the server's
// applications read ECONNRESET within 1 s, their sockets are gone, the entries are gone
// and no new one appears; the UDP flow is deleted and said to have no reset; an IPv4 and
// an IPv6 flow that were not planned still carry data both ways; and tcpdump on every
// interface of the client, the router and the server saw TCP packets of the planned
// flows alone.
func TestIntegrationConntrackReset(t *testing.T) {
	for _, loose := range []string{"0", "1"} {
		t.Run("tcp_loose="+loose, func(t *testing.T) { testConntrackReset(t, loose) })
	}
}

// A pair is a connection across the router, as its two applications hold it.
type pair struct {
	name           string
	client, server *net.TCPConn
}

func testConntrackReset(t *testing.T, loose string) {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	r.check(r.Router.Do(func() error {
		return os.WriteFile("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", []byte(loose), 0o644)
	}))
	v6Cut, v6Keep := netip.AddrPortFrom(testnet.ServerV6, 82), netip.AddrPortFrom(testnet.ServerV6, 83)
	connect := func(name string, l *net.TCPListener, to netip.AddrPort) pair {
		c, s, err := r.Connect(l, to)
		r.check(err)
		// No keepalive: a probe of a flow that is not planned would show in the capture.
		r.check(c.SetKeepAlive(false))
		r.check(s.SetKeepAlive(false))
		r.check(echo(c, s))
		return pair{name, c, s}
	}
	listen := func(at netip.AddrPort) *net.TCPListener {
		l, err := r.Listen(r.Server, at)
		r.check(err)
		return l
	}
	lDNAT, lOther, l6Cut, l6Keep := listen(backend), listen(direct), listen(v6Cut), listen(v6Keep)
	idle := connect("idle DNATed", lDNAT, service)
	busy := connect("busy DNATed", lDNAT, service)
	idle6 := connect("idle IPv6", l6Cut, v6Cut)
	keep := connect("kept IPv4", lOther, direct)
	keep6 := connect("kept IPv6", l6Keep, v6Keep)
	udpServer, err := r.ListenUDP(r.Server, dnsServer)
	r.check(err)
	udpClient, err := r.DialUDP(dnsServer)
	r.check(err)
	r.check(udpEcho(udpClient, udpServer))

	// Data in flight both ways: the client sends a line every millisecond, the server
	// echoes it, the client reads the echo. The reset's error is reported once, to the
	// first call on the socket: the client's reader or its writer, the server's echo.
	sideErrs := map[string]chan error{"client": make(chan error, 2), "server": make(chan error, 1)}
	go func() {
		for {
			if _, err := busy.client.Write([]byte("data in flight\n")); err != nil {
				sideErrs["client"] <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	go func() { _, err := io.Copy(busy.server, busy.server); sideErrs["server"] <- err }()
	go func() { _, err := io.Copy(io.Discard, busy.client); sideErrs["client"] <- err }()
	time.Sleep(100 * time.Millisecond)

	// Without CAP_NET_RAW, or with bad input, nothing is sent or deleted.
	noRaw := []string{"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", bin, "conntrack", "--reset", "-y", "--port", "81"}
	res, err := r.Router.Run(noRaw...)
	r.check(err)
	if res.Code != 1 || !strings.Contains(res.Stderr, "CAP_NET_RAW") || !strings.Contains(res.Stderr, "nothing was deleted") {
		t.Errorf("%q: exit %d, stderr %q; want exit 1 and a sentence that names CAP_NET_RAW", noRaw, res.Code, res.Stderr)
	}
	for _, args := range [][]string{{"--reset", "-y"}, {"--reset", "-y", "--port", "81", "--state", "fin_wait2"}} {
		if res := r.tcpreap(args...); res.Code != 2 {
			t.Errorf("%q: exit %d, want 2", args, res.Code)
		}
	}
	if _, ok := entryTo(r.table(), "tcp", direct); !ok {
		t.Fatal("the entry to port 81 is gone after runs that must delete nothing")
	}

	dir := t.TempDir()
	var captures []*testnet.Capture
	for _, h := range []*testnet.Host{r.Client, r.Router, r.Server} {
		c, err := h.Capture(dir)
		r.check(err)
		captures = append(captures, c)
	}
	rep := r.json(0, "--reset", "-y", "-t", "-u", "--port", "8080,82,53")
	ended := time.Now()
	var packets []testnet.Packet
	for _, c := range captures {
		ps, err := c.Stop()
		r.check(err)
		packets = append(packets, ps...)
	}

	// The report: three TCP flows with both ends reset, the UDP flow without.
	planned := map[[2]netip.AddrPort]bool{}
	tcp := 0
	for _, f := range rep.Flows {
		want := "reset both"
		if f.Proto == "udp" {
			want = "no reset: UDP has none"
		} else {
			tcp++
		}
		if f.Action != "killed" || f.Ends != want {
			t.Errorf("%s %s:%d → %s:%d: %s, ends %q; want killed, %q (error %q)", f.Proto, f.OrigSrcIP, f.OrigSrcPort, f.OrigDstIP, f.OrigDstPort, f.Action, f.Ends, want, f.Error)
		}
		ap := func(ip string, port uint16) netip.AddrPort {
			return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
		}
		for _, tu := range [][2]netip.AddrPort{{ap(f.OrigSrcIP, f.OrigSrcPort), ap(f.OrigDstIP, f.OrigDstPort)}, {ap(f.ReplySrcIP, f.ReplySrcPort), ap(f.ReplyDstIP, f.ReplyDstPort)}} {
			planned[tu], planned[[2]netip.AddrPort{tu[1], tu[0]}] = true, true
		}
	}
	if tcp != 3 || len(rep.Flows) != 4 {
		t.Fatalf("%d flows, %d TCP: want the three planned TCP flows and the UDP one: %+v", len(rep.Flows), tcp, rep.Flows)
	}

	// Both applications of each planned flow read ECONNRESET within 1 s.
	for _, p := range []pair{idle, idle6} {
		for side, c := range map[string]*net.TCPConn{"client": p.client, "server": p.server} {
			_ = c.SetReadDeadline(ended.Add(time.Second))
			if _, err := c.Read(make([]byte, 64)); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("%s flow, %s: read %v, want ECONNRESET", p.name, side, err)
			}
		}
	}
	for side, ch := range sideErrs {
		var got []error
		for len(got) < cap(ch) {
			select {
			case err := <-ch:
				got = append(got, err)
				continue
			case <-time.After(time.Until(ended.Add(time.Second))):
				_ = busy.client.SetDeadline(time.Now())
				_ = busy.server.SetDeadline(time.Now())
			}
			break
		}
		if !slices.ContainsFunc(got, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }) {
			t.Errorf("busy DNATed flow, %s: %v within 1 s, want ECONNRESET", side, got)
		}
	}
	// Their sockets are gone, and so are their entries.
	for _, p := range []pair{idle, busy, idle6} {
		r.check(r.Client.AwaitGone(addrPort(p.client.LocalAddr()), addrPort(p.client.RemoteAddr())))
		r.check(r.Server.AwaitGone(addrPort(p.server.LocalAddr()), addrPort(p.server.RemoteAddr())))
	}
	after := r.table()
	for _, to := range []netip.AddrPort{service, v6Cut} {
		if e, ok := entryTo(after, "tcp", to); ok {
			t.Errorf("an entry to %s is in the table after the reset: %+v", to, e)
		}
	}
	// The flows that were not planned carry data both ways.
	for _, p := range []pair{keep, keep6} {
		if err := echo(p.client, p.server); err != nil {
			t.Errorf("the %s flow: %v", p.name, err)
		}
	}
	// Every packet on every interface was of a planned flow.
	for _, p := range packets {
		if !planned[[2]netip.AddrPort{p.Src, p.Dst}] {
			t.Errorf("captured %s: of no planned flow", p)
		}
	}
	if len(packets) == 0 {
		t.Error("tcpdump captured nothing: the resets went unseen")
	}
	t.Logf("%d packets captured; %s", len(packets), summarize(packets))
}

// summarize counts the captured packets by flags.
func summarize(ps []testnet.Packet) string {
	n := map[string]int{}
	for _, p := range ps {
		n[p.Flags]++
	}
	var out []string
	for f, c := range n {
		out = append(out, fmt.Sprintf("[%s] %d", f, c))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func addrPort(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// TestIntegrationConntrackResetMany: 700 DNATed flows, more than one capture filter holds
// (1,400 ends in ten batches, reset at once), in one run of a few seconds: every client
// reads ECONNRESET: the answers of a burst this large fit in the captures' buffers, and
// each end has its wait from its own provocation, however long the sends before it took.
func TestIntegrationConntrackResetMany(t *testing.T) {
	const flows = 700
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	l, err := r.Listen(r.Server, backend)
	r.check(err)
	clients := make([]*net.TCPConn, flows)
	for i := range clients {
		c, _, err := r.Connect(l, service)
		r.check(err)
		clients[i] = c
	}
	start := time.Now()
	res := r.tcpreap("--reset", "-y", "-q", "--json", service.String())
	took := time.Since(start)
	if res.Code != 0 {
		t.Fatalf("exit %d", res.Code)
	}
	// -q: the summary alone; the words come from a run that lists them.
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	if rep.Summary.Killed != flows {
		t.Fatalf("summary %+v; want %d deleted", rep.Summary, flows)
	}
	if took > 10*time.Second {
		t.Errorf("%d flows took %v", flows, took)
	}
	reset := 0
	for _, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 8)); errors.Is(err, syscall.ECONNRESET) {
			reset++
		}
	}
	if reset < flows {
		t.Errorf("%d of %d clients read ECONNRESET", reset, flows)
	}
	t.Logf("%d flows in %v: %d clients reset", flows, took, reset)
}

// TestIntegrationConntrackResetClaims: with 300 flows at once, each flow's words about its
// client are checked against what the client read: "reset both" and "reset client only"
// only where the client's application reads ECONNRESET.
func TestIntegrationConntrackResetClaims(t *testing.T) {
	const flows = 300
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	l, err := r.Listen(r.Server, backend)
	r.check(err)
	clients := map[uint16]*net.TCPConn{}
	for range flows {
		c, _, err := r.Connect(l, service)
		r.check(err)
		clients[addrPort(c.LocalAddr()).Port()] = c
	}
	res := r.tcpreap("--reset", "-y", "--json", service.String())
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	if res.Code != 0 || len(rep.Flows) != flows {
		t.Fatalf("exit %d, %d flows", res.Code, len(rep.Flows))
	}
	words := map[string]int{}
	for _, f := range rep.Flows {
		words[f.Ends]++
		c := clients[f.OrigSrcPort]
		if c == nil {
			t.Fatalf("a flow from port %d, which no client has", f.OrigSrcPort)
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 8))
		claimed := f.Ends == "reset both" || strings.HasPrefix(f.Ends, "reset client only")
		if claimed && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("flow from port %d says %q; its client read %v", f.OrigSrcPort, f.Ends, err)
		}
	}
	t.Logf("the flows' ends: %v", words)
}

// TestIntegrationConntrackResetSSHSessionKept: tcpreap conntrack --reset run in an SSH
// login on the router keeps that connection back as a plain cut does: its entry is
// skipped, its ends are sent nothing and still carry data, while the client's other flow
// is reset at both ends.
func TestIntegrationConntrackResetSSHSessionKept(t *testing.T) {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	sshAddr := netip.AddrPortFrom(testnet.RouterOutside, 2222)
	lSSH, err := r.Listen(r.Router, sshAddr)
	r.check(err)
	client, server, err := r.Connect(lSSH, sshAddr)
	r.check(err)
	r.check(echo(client, server))
	l, err := r.Listen(r.Server, backend)
	r.check(err)
	other, _, err := r.Connect(l, service)
	r.check(err)
	self := client.LocalAddr().(*net.TCPAddr).AddrPort()
	login := "SSH_CONNECTION=" + strings.Join([]string{self.Addr().String(), itoa(self.Port()), sshAddr.Addr().String(), itoa(sshAddr.Port())}, " ")

	argv := []string{"env", login, bin, "conntrack", "--reset", "-y", "--json", testnet.ClientV4.String()}
	res, err := r.Router.Run(argv...)
	r.check(err)
	t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	if res.Code != 0 || rep.Summary.Killed != 1 || rep.Summary.Skipped != 1 {
		t.Fatalf("exit %d, summary %+v; want the other flow killed and the session skipped", res.Code, rep.Summary)
	}
	if kept, ok := recordTo(rep, "tcp", sshAddr); !ok || kept.Action != "skipped" || kept.Ends != "" {
		t.Errorf("the session's entry: %+v, want skipped, its ends sent nothing", kept)
	}
	if _, ok := entryTo(r.table(), "tcp", sshAddr); !ok {
		t.Error("the session's entry is gone")
	}
	if err := echo(client, server); err != nil {
		t.Errorf("the session stopped: %v", err)
	}
	_ = other.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := other.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the other flow's client read %v, want ECONNRESET", err)
	}
}

// TestIntegrationConntrackResetSilentServer: a server whose answers never leave it (its
// output dropped once the connection is up) is never claimed reset: the flow says the
// server did not answer and the client was reset, and the server's socket stays. SIGINT
// during the wait ends the run with a report of the flow, exit 130, and the audit line.
func TestIntegrationConntrackResetSilentServer(t *testing.T) {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	l, err := r.Listen(r.Server, backend)
	r.check(err)
	client, _, err := r.Connect(l, service)
	r.check(err)
	second, _, err := r.Connect(l, service)
	r.check(err)
	for _, argv := range [][]string{
		{"nft", "add", "table", "ip", "silent"},
		{"nft", "add", "chain", "ip", "silent", "out", "{ type filter hook output priority 0; policy accept; }"},
		{"nft", "add", "rule", "ip", "silent", "out", "tcp", "sport", "80", "drop"},
	} {
		if res, err := r.Server.Run(argv...); err != nil || res.Code != 0 {
			t.Fatalf("%q: %v %s", argv, err, res.Stderr)
		}
	}
	port := func(c interface{ LocalAddr() net.Addr }) string { return itoa(addrPort(c.LocalAddr()).Port()) }

	res := r.tcpreap("--reset", "-y", "--json", "--port", port(client))
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	if res.Code != 0 || len(rep.Flows) != 1 || !strings.HasPrefix(rep.Flows[0].Ends, "reset client only: the server did not answer") {
		t.Errorf("exit %d, %+v", res.Code, rep.Flows)
	}
	_ = client.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := client.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the client read %v, want ECONNRESET", err)
	}
	if _, err := r.Server.Await("the silent server's socket", func(s testnet.Sockets) bool {
		n := 0
		for _, so := range s {
			if so.Remote.Port() == addrPort(client.LocalAddr()).Port() && so.State == "established" {
				n++
			}
		}
		return n == 1
	}); err != nil {
		t.Errorf("the silent server's socket: %v", err)
	}

	sink := newSyslogSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := r.Router.Command(ctx, bin, "conntrack", "--reset", "-y", "--json", "--port", port(second))
	cmd.Env = append(cmd.Env, "TCPREAP_SYSLOG_SOCKET="+sink.path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r.check(cmd.Start())
	time.Sleep(400 * time.Millisecond)
	r.check(cmd.Process.Signal(syscall.SIGINT))
	err = cmd.Wait()
	t.Logf("SIGINT: %v\nstdout:\n%sstderr:\n%s", err, stdout.String(), stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want 130", err)
	}
	rep, err = testnet.ParseFlowReport(stdout.String())
	r.check(err)
	if len(rep.Flows) != 1 {
		t.Errorf("%d flows reported, want 1", len(rep.Flows))
	}
	if line := sink.one(t); !strings.Contains(line, "matched=1 killed=0 gone=0 failed=1 ") {
		t.Errorf("the audit line %q does not count the flow failed", line)
	}
}

// TestIntegrationConntrackResetFromAnotherNamespace: tcpreap conntrack --reset --netns run
// from another network namespace (a new, empty one) resets both ends of a flow whose
// server end is the router itself: its segments are sent from the router's namespace, to
// the router's own socket as to the client, never from the namespace tcpreap started in.
func TestIntegrationConntrackResetFromAnotherNamespace(t *testing.T) {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	at := netip.AddrPortFrom(testnet.RouterOutside, 2222)
	l, err := r.Listen(r.Router, at)
	r.check(err)
	client, server, err := r.Connect(l, at)
	r.check(err)
	r.check(echo(client, server))
	argv := []string{"unshare", "-n", bin, "conntrack", "--reset", "-y", "--json", "--netns", r.Router.Name, "--port", "2222"}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	t.Logf("%s → %v\n%s", strings.Join(argv, " "), err, out)
	rep, perr := testnet.ParseFlowReport(string(out))
	if err != nil || perr != nil || len(rep.Flows) != 1 || rep.Flows[0].Ends != "reset both" {
		t.Fatalf("%v, %v: %+v; want the flow's ends reset both", err, perr, rep.Flows)
	}
	for name, c := range map[string]*net.TCPConn{"client": client, "router's socket": server} {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the %s read %v, want ECONNRESET", name, err)
		}
	}
}
