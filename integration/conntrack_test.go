// Router flows: tcpreap conntrack on a router between a client and a server, checked with
// conntrack -L (conntrack-tools) and with what the applications at both ends saw.

package integration

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/integration/testnet"
)

// routerRuleset is the router's firewall: a service address on the router DNATed to the
// server (198.51.100.1:8080 → 192.0.2.2:80), masquerade towards the server, and packets
// that conntrack calls invalid dropped, forwarded or to the router itself (after the cut a
// DNATed flow's packets are addressed to the router again: no entry, no DNAT).
const routerRuleset = `
table ip tcpreap_test {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.51.100.1 tcp dport 8080 dnat to 192.0.2.2:80
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "veth1" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ct state invalid drop
	}
}
table ip6 tcpreap_test6 {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
	}
}
`

var (
	service   = netip.AddrPortFrom(testnet.RouterOutside, 8080) // DNATed to backend
	backend   = netip.AddrPortFrom(testnet.ServerV4, 80)
	direct    = netip.AddrPortFrom(testnet.ServerOtherV4, 81) // forwarded, masqueraded
	dnsServer = netip.AddrPortFrom(testnet.ServerOtherV4, 53) // UDP, forwarded
)

// routed is a Routed network with three flows across the router: a TCP flow to the
// DNATed service, a plain forwarded TCP flow, and a UDP flow; every one carried data both
// ways.
type routed struct {
	*testnet.Routed
	t                    *testing.T
	dnatClient, dnatSrv  *net.TCPConn
	otherClient, otherSv *net.TCPConn
	udpClient, udpServer *net.UDPConn
}

func newRouted(t *testing.T) *routed {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	lDNAT, err := r.Listen(r.Server, backend)
	r.check(err)
	lOther, err := r.Listen(r.Server, direct)
	r.check(err)
	r.udpServer, err = r.ListenUDP(r.Server, dnsServer)
	r.check(err)
	r.dnatClient, r.dnatSrv, err = r.Connect(lDNAT, service)
	r.check(err)
	r.otherClient, r.otherSv, err = r.Connect(lOther, direct)
	r.check(err)
	r.check(echo(r.dnatClient, r.dnatSrv))
	r.check(echo(r.otherClient, r.otherSv))
	r.udpClient, err = r.DialUDP(dnsServer)
	r.check(err)
	r.check(udpEcho(r.udpClient, r.udpServer))
	return r
}

func (r *routed) check(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// tcpreap runs tcpreap conntrack with args in the router and logs how it went.
func (r *routed) tcpreap(args ...string) testnet.Result {
	r.t.Helper()
	argv := append([]string{bin, "conntrack"}, args...)
	res, err := r.Router.Run(argv...)
	r.check(err)
	r.t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
	return res
}

// json runs tcpreap conntrack with args and --json, requires exit code want, and decodes.
func (r *routed) json(want int, args ...string) testnet.FlowReport {
	r.t.Helper()
	at := 0
	if len(args) > 0 && args[0] == "list" {
		at = 1
	}
	res := r.tcpreap(slices.Insert(slices.Clone(args), at, "--json")...)
	if res.Code != want {
		r.t.Fatalf("exit code %d, want %d (stderr: %s)", res.Code, want, res.Stderr)
	}
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	return rep
}

// table is the router's conntrack table as conntrack -L shows it.
func (r *routed) table() []testnet.Entry {
	r.t.Helper()
	es, err := r.Router.Conntrack()
	r.check(err)
	return es
}

// entryTo finds the entry whose original direction goes to dst from the client.
func entryTo(es []testnet.Entry, proto string, dst netip.AddrPort) (testnet.Entry, bool) {
	for _, e := range es {
		if e.Proto == proto && (e.Orig[0].Addr() == testnet.ClientV4 || e.Orig[0].Addr() == testnet.ClientV6) && e.Orig[1] == dst {
			return e, true
		}
	}
	return testnet.Entry{}, false
}

func recordTo(rep testnet.FlowReport, proto string, dst netip.AddrPort) (testnet.FlowRecord, bool) {
	for _, f := range rep.Flows {
		if f.Proto == proto && f.OrigSrcIP == testnet.ClientV4.String() && f.OrigDstIP == dst.Addr().String() && f.OrigDstPort == dst.Port() {
			return f, true
		}
	}
	return testnet.FlowRecord{}, false
}

// TestIntegrationConntrack: the three flows across the router appear in tcpreap conntrack
// list as conntrack -L shows them (same tuples, same ids); --reply-src selects the DNATed
// flow alone; the cut deletes its entry and no other, and the TCP flow stops (the client's
// next data reaches nobody and gets no answer) while the other flow carries on; -u cuts the
// UDP flow; a guard or bad input deletes nothing.
func TestIntegrationConntrack(t *testing.T) {
	r := newRouted(t)
	before := r.table()
	oracle := map[string]testnet.Entry{}
	for name, want := range map[string]struct {
		proto string
		dst   netip.AddrPort
	}{"dnat": {"tcp", service}, "other": {"tcp", direct}, "udp": {"udp", dnsServer}} {
		e, ok := entryTo(before, want.proto, want.dst)
		if !ok {
			t.Fatalf("conntrack -L shows no %s entry to %s: %+v", want.proto, want.dst, before)
		}
		oracle[name] = e
	}

	t.Run("list", func(t *testing.T) {
		rep := r.json(0, "list", "-t", "-u")
		for name, e := range oracle {
			got, ok := recordTo(rep, e.Proto, e.Orig[1])
			switch {
			case !ok:
				t.Errorf("%s flow (conntrack -L: %+v) is not listed", name, e)
			case got.ID != e.ID || got.ReplySrcIP != e.Reply[0].Addr().String() || got.ReplySrcPort != e.Reply[0].Port() ||
				got.ReplyDstIP != e.Reply[1].Addr().String() || got.OrigSrcPort != e.Orig[0].Port() || got.Action != "would_kill":
				t.Errorf("%s flow listed as %+v; conntrack -L shows %+v", name, got, e)
			}
		}
		dnat, _ := recordTo(rep, "tcp", service)
		if dnat.State != "established" || !slices.Contains(dnat.Status, "dnat") || !slices.Contains(dnat.Status, "assured") {
			t.Errorf("the DNATed flow: state %q, status %v; want established, dnat and assured", dnat.State, dnat.Status)
		}
		if rep.Summary.Matched != len(rep.Flows) || !rep.Summary.DryRun {
			t.Errorf("summary %+v for %d entries", rep.Summary, len(rep.Flows))
		}
		if only := r.json(0, "list", "-u"); len(only.Flows) != 1 || only.Flows[0].Proto != "udp" || only.Flows[0].ID != oracle["udp"].ID {
			t.Errorf("list -u: %+v, want the UDP flow alone", only.Flows)
		}
	})

	t.Run("reply-src selects the DNATed flow", func(t *testing.T) {
		rep := r.json(0, "list", "-t", "-u", "--reply-src", testnet.ServerV4.String())
		if len(rep.Flows) != 1 || rep.Flows[0].ID != oracle["dnat"].ID {
			t.Fatalf("--reply-src %s: %+v, want the DNATed flow (id %d) alone", testnet.ServerV4, rep.Flows, oracle["dnat"].ID)
		}
		// A PEER is either end of the original direction: the client selects both TCP
		// flows, the service address only the DNATed one.
		if rep := r.json(0, "list", testnet.ClientV4.String()); len(rep.Flows) != 2 {
			t.Errorf("list %s: %d flows, want both TCP flows", testnet.ClientV4, len(rep.Flows))
		}
		if rep := r.json(0, "list", service.String()); len(rep.Flows) != 1 || rep.Flows[0].ID != oracle["dnat"].ID {
			t.Errorf("list %s: %+v, want the DNATed flow alone", service, rep.Flows)
		}
	})

	t.Run("--netns reaches the router's table from the client", func(t *testing.T) {
		argv := []string{bin, "conntrack", "list", "--json", "-t", "-u", "--netns", r.Router.Name}
		res, err := r.Client.Run(argv...)
		r.check(err)
		t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
		rep, err := testnet.ParseFlowReport(res.Stdout)
		if res.Code != 0 || err != nil {
			t.Fatalf("exit %d, %v", res.Code, err)
		}
		for name, e := range oracle {
			if got, ok := recordTo(rep, e.Proto, e.Orig[1]); !ok || got.ID != e.ID {
				t.Errorf("%s flow (id %d) not listed through --netns: %+v", name, e.ID, got)
			}
		}
	})

	t.Run("nothing deleted without a selector, over --max or with bad input", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			code int
			says string
		}{
			{[]string{"-y"}, 2, "--all"},
			{[]string{"-y", "--max", "0", "--reply-src", testnet.ServerV4.String()}, 3, "more than --max 0"},
			{[]string{"-y", "--mark", "0x1/zz", testnet.ClientV4.String()}, 2, "VALUE/MASK"},
			{[]string{"-y", "--state", "fin_wait2", testnet.ClientV4.String()}, 2, "fin_wait"},
			{[]string{"-y", "--status", "seen", testnet.ClientV4.String()}, 2, "unreplied"},
			{[]string{"-y", "--zone", "70000", testnet.ClientV4.String()}, 2, "65535"},
			{[]string{"-y", "--reply-src", "192.0.2.300"}, 2, "not a valid IP"},
		} {
			res := r.tcpreap(c.args...)
			if res.Code != c.code || !strings.Contains(res.Stderr, c.says) || res.Stdout != "" {
				t.Errorf("%q: exit %d, stderr %q; want exit %d and a sentence with %q", c.args, res.Code, res.Stderr, c.code, c.says)
			}
		}
		for name, e := range oracle {
			if _, ok := entryTo(r.table(), e.Proto, e.Orig[1]); !ok {
				t.Errorf("the %s flow's entry is gone after runs that must delete nothing", name)
			}
		}
	})

	t.Run("unprivileged", func(t *testing.T) {
		argv := slices.Concat(nobody, []string{bin, "conntrack", "list"})
		res, err := r.Router.Run(argv...)
		r.check(err)
		if res.Code != 1 || !strings.Contains(res.Stderr, "needs CAP_NET_ADMIN") || res.Stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and a sentence that says CAP_NET_ADMIN", argv, res.Code, res.Stdout, res.Stderr)
		}
	})

	t.Run("cut the DNATed flow", func(t *testing.T) {
		rep := r.json(0, "-y", "--reply-src", testnet.ServerV4.String())
		if len(rep.Flows) != 1 || rep.Flows[0].Action != "killed" || rep.Flows[0].ID != oracle["dnat"].ID || rep.Summary.Killed != 1 {
			t.Fatalf("cut: %+v %+v, want the DNATed flow killed", rep.Flows, rep.Summary)
		}
		after := r.table()
		if e, ok := entryTo(after, "tcp", service); ok {
			t.Errorf("the DNATed flow's entry is still there: %+v", e)
		}
		for _, name := range []string{"other", "udp"} {
			e, ok := entryTo(after, oracle[name].Proto, oracle[name].Orig[1])
			if !ok || e.ID != oracle[name].ID {
				t.Errorf("the %s flow's entry (id %d) is gone or replaced: %+v", name, oracle[name].ID, e)
			}
		}
		// The flow stops: the client's next data is invalid at the router and dropped,
		// so the server gets nothing and the client no answer.
		if _, err := r.dnatClient.Write([]byte("after the cut\n")); err != nil {
			t.Fatalf("the client's write: %v", err)
		}
		if err := expectSilence(r.dnatSrv, 2*time.Second); err != nil {
			t.Errorf("the server: %v", err)
		}
		if _, err := r.dnatSrv.Write([]byte("answer\n")); err != nil {
			t.Fatalf("the server's write: %v", err)
		}
		if err := expectSilence(r.dnatClient, 2*time.Second); err != nil {
			t.Errorf("the client: %v", err)
		}
		if e, ok := entryTo(r.table(), "tcp", service); ok {
			t.Errorf("the DNATed flow has an entry again after the cut: %+v", e)
		}
		if err := echo(r.otherClient, r.otherSv); err != nil {
			t.Errorf("the other TCP flow stopped too: %v", err)
		}
	})

	t.Run("cut the UDP flow", func(t *testing.T) {
		rep := r.json(0, "-y", "-u", "--port", "53")
		if len(rep.Flows) != 1 || rep.Flows[0].Action != "killed" || rep.Flows[0].ID != oracle["udp"].ID {
			t.Fatalf("cut -u --port 53: %+v, want the UDP flow killed", rep.Flows)
		}
		after := r.table()
		if e, ok := entryTo(after, "udp", dnsServer); ok {
			t.Errorf("the UDP flow's entry is still there: %+v", e)
		}
		if e, ok := entryTo(after, "tcp", direct); !ok || e.ID != oracle["other"].ID {
			t.Errorf("the other TCP flow's entry is gone or replaced: %+v", e)
		}
		// Idempotent: nothing matches any more, and that is success.
		if rep := r.json(0, "-y", "-u", "--port", "53"); rep.Summary.Matched != 0 {
			t.Errorf("a second cut matched %+v", rep.Summary)
		}
	})
}

// TestIntegrationConntrackCoversEverything: PEERs that together take in every address on
// every port are no selection, however they are written, for conntrack entries and
// sockets alike: a v4-mapped prefix is judged as the IPv4 prefix it is (::ffff:0.0.0.0/96
// ::/0 is 0.0.0.0/0 ::/0), a narrower peer beside them narrows nothing, and ports split
// across one prefix's PEERs cover it. Without --all each run is refused with exit 2, on
// the router (its conntrack table) and on the client (its sockets), and every entry and
// connection is still there.
func TestIntegrationConntrackCoversEverything(t *testing.T) {
	r := newRouted(t)
	before := r.table()
	for _, words := range [][]string{
		{"::ffff:0.0.0.0/96", "::/0"},
		{"-4", "::ffff:0.0.0.0/96"},
		{"0.0.0.0/0", "::/0", testnet.ServerV4.String() + ":80"},
		{"0.0.0.0/0:1-32767", "0.0.0.0/0:32768-65535", "::/0"},
	} {
		args := slices.Concat([]string{"-y", "-t", "-u"}, words)
		if res := r.tcpreap(args...); res.Code != 2 || !strings.Contains(res.Stderr, "--all") || res.Stdout != "" {
			t.Errorf("conntrack %q: exit %d, stderr %q; want exit 2 and a sentence with --all", args, res.Code, res.Stderr)
		}
		argv := append([]string{bin}, args...)
		res, err := r.Client.Run(argv...)
		r.check(err)
		t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
		if res.Code != 2 || !strings.Contains(res.Stderr, "--all") || res.Stdout != "" {
			t.Errorf("sockets %q: exit %d, stderr %q; want exit 2 and a sentence with --all", args, res.Code, res.Stderr)
		}
	}
	after := r.table()
	for _, e := range before {
		if e.Orig[0].Addr() != testnet.ClientV4 {
			continue
		}
		if got, ok := entryTo(after, e.Proto, e.Orig[1]); !ok || got.ID != e.ID {
			t.Errorf("the %s entry to %s (id %d) is gone or replaced after runs that must delete nothing", e.Proto, e.Orig[1], e.ID)
		}
	}
	for name, err := range map[string]error{
		"DNATed": echo(r.dnatClient, r.dnatSrv), "other": echo(r.otherClient, r.otherSv), "UDP": udpEcho(r.udpClient, r.udpServer),
	} {
		if err != nil {
			t.Errorf("the %s flow no longer carries data: %v", name, err)
		}
	}
}

// TestIntegrationConntrackFlowID: flows deletes by the flow id as well as the tuple, in
// the namespace its Config names: a delete with the right tuple and another id answers
// ENOENT and leaves the entry; with its id, the entry goes.
func TestIntegrationConntrackFlowID(t *testing.T) {
	r := newRouted(t)
	conn, err := flows.Dial(&flows.Config{NetNS: r.Router.NetNSFD()})
	r.check(err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	zone := uint16(0) // sent to the kernel as a dump filter, and checked again in Go
	found, err := conn.Dump(ctx, &flows.Filter{Peers: []inet.Endpoint{{Prefix: netip.PrefixFrom(direct.Addr(), 32)}}, Zone: &zone})
	r.check(err)
	if len(found) != 1 {
		t.Fatalf("the dump in the router found %+v, want the one flow to %s", found, direct)
	}
	target := found[0]
	replaced := target
	replaced.ID++
	if err := conn.Delete(ctx, []flows.Flow{replaced})[0]; !errors.Is(err, unix.ENOENT) {
		t.Errorf("a delete with another id: %v, want ENOENT", err)
	}
	if e, ok := entryTo(r.table(), "tcp", direct); !ok || e.ID != target.ID {
		t.Fatalf("a delete with another id touched the entry (id %d): %+v", target.ID, e)
	}
	if err := conn.Delete(ctx, []flows.Flow{target})[0]; err != nil {
		t.Fatalf("a delete with its id: %v", err)
	}
	if e, ok := entryTo(r.table(), "tcp", direct); ok {
		t.Errorf("the entry is still there after its delete: %+v", e)
	}
}

// echo sends a line from client to server and back, within 5 seconds.
func echo(client, server *net.TCPConn) error {
	deadline := time.Now().Add(5 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = server.SetDeadline(deadline)
	defer client.SetDeadline(time.Time{})
	defer server.SetDeadline(time.Time{})
	if _, err := client.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := readFull(server, buf); err != nil {
		return err
	}
	if _, err := server.Write(buf); err != nil {
		return err
	}
	_, err := readFull(client, buf)
	return err
}

// udpEcho sends a datagram from the client and answers it from the server.
func udpEcho(client, server *net.UDPConn) error {
	deadline := time.Now().Add(5 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = server.SetDeadline(deadline)
	if _, err := client.Write([]byte("query")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, from, err := server.ReadFromUDPAddrPort(buf)
	if err != nil {
		return err
	}
	if _, err := server.WriteToUDPAddrPort(buf[:n], from); err != nil {
		return err
	}
	_, err = client.Read(buf)
	return err
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// expectSilence checks that c receives nothing for d: its read times out.
func expectSilence(c *net.TCPConn, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return errors.New("got " + string(buf[:n]) + " " + errString(err) + " where the flow should have stopped")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

// TestIntegrationConntrackSSHSessionKept: tcpreap conntrack run in an SSH login on the
// router (SSH_CONNECTION names a connection from the client to the router itself) keeps
// that connection's entry back, skipped with its reason, while it deletes the client's
// other flows; the session still carries data. --include-self deletes it too.
func TestIntegrationConntrackSSHSessionKept(t *testing.T) {
	r := newRouted(t)
	sshAddr := netip.AddrPortFrom(testnet.RouterOutside, 2222)
	l, err := r.Listen(r.Router, sshAddr)
	r.check(err)
	client, server, err := r.Connect(l, sshAddr)
	r.check(err)
	r.check(echo(client, server))
	self := client.LocalAddr().(*net.TCPAddr).AddrPort()
	login := "SSH_CONNECTION=" + strings.Join([]string{self.Addr().String(), itoa(self.Port()), sshAddr.Addr().String(), itoa(sshAddr.Port())}, " ")

	argv := []string{"env", login, bin, "conntrack", "-y", "--json", testnet.ClientV4.String()}
	res, err := r.Router.Run(argv...)
	r.check(err)
	t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
	if res.Code != 0 {
		t.Fatalf("exit %d", res.Code)
	}
	rep, err := testnet.ParseFlowReport(res.Stdout)
	r.check(err)
	kept, ok := recordTo(rep, "tcp", sshAddr)
	if !ok || kept.Action != "skipped" || !strings.Contains(kept.Reason, "ssh session") {
		t.Errorf("the session's entry: %+v, want skipped for the ssh session", kept)
	}
	if rep.Summary.Killed != 2 || rep.Summary.Skipped != 1 {
		t.Errorf("summary %+v, want the two other TCP flows killed and the session skipped", rep.Summary)
	}
	if _, ok := entryTo(r.table(), "tcp", sshAddr); !ok {
		t.Error("the session's entry is gone")
	}
	if err := echo(client, server); err != nil {
		t.Errorf("the session stopped: %v", err)
	}

	rep = r.json(0, "-y", "--include-self", testnet.ClientV4.String())
	if got, ok := recordTo(rep, "tcp", sshAddr); !ok || got.Action != "killed" {
		t.Errorf("--include-self: the session's entry %+v, want killed", got)
	}
	if _, ok := entryTo(r.table(), "tcp", sshAddr); ok {
		t.Error("--include-self: the session's entry is still there")
	}
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }

// TestIntegrationConntrackConfirm: on a terminal, tcpreap conntrack shows the plan's summary
// and asks; "n" deletes nothing (exit 3), "y" deletes.
func TestIntegrationConntrackConfirm(t *testing.T) {
	r := newRouted(t)
	before, ok := entryTo(r.table(), "tcp", service)
	if !ok {
		t.Fatal("conntrack -L shows no entry for the DNATed flow")
	}
	args := []string{"conntrack", "--reply-src", testnet.ServerV4.String()}

	term := startPTY(t, r.Router, args...)
	shown := term.await("delete 1 conntrack entry? [y/N] ")
	if !strings.Contains(shown, "1 tcp ESTABLISHED") || !strings.Contains(shown, "no reset reaches either end") {
		t.Errorf("the summary before the question:\n%s", shown)
	}
	term.send("n\n")
	if code, out := term.wait(); code != 3 || !strings.Contains(out, "nothing was deleted") {
		t.Errorf("declined: exit %d, want 3 and a sentence that nothing was deleted", code)
	}
	if e, ok := entryTo(r.table(), "tcp", service); !ok || e.ID != before.ID {
		t.Fatalf("declined, yet the entry (id %d) is gone or replaced: %+v", before.ID, e)
	}

	term = startPTY(t, r.Router, args...)
	term.await("delete 1 conntrack entry? [y/N] ")
	term.send("y\n")
	if code, out := term.wait(); code != 0 || !strings.Contains(out, "1 deleted") {
		t.Errorf("confirmed: exit %d, want 0 and 1 deleted", code)
	}
	if e, ok := entryTo(r.table(), "tcp", service); ok {
		t.Errorf("confirmed, yet the entry is still there: %+v", e)
	}
}

// TestIntegrationConntrackIPv6: IPv6 flows across the router are listed with -6 (and the
// IPv4 ones are not), as conntrack -L -f ipv6 shows them; a cut by port deletes its
// entry by its IPv6 tuple and id, that flow stops, and the other IPv6 flow carries on.
func TestIntegrationConntrackIPv6(t *testing.T) {
	r := newRouted(t)
	cutAddr, keepAddr := netip.AddrPortFrom(testnet.ServerV6, 82), netip.AddrPortFrom(testnet.ServerV6, 83)
	lCut, err := r.Listen(r.Server, cutAddr)
	r.check(err)
	lKeep, err := r.Listen(r.Server, keepAddr)
	r.check(err)
	cutClient, cutServer, err := r.Connect(lCut, cutAddr)
	r.check(err)
	keepClient, keepServer, err := r.Connect(lKeep, keepAddr)
	r.check(err)
	r.check(echo(cutClient, cutServer))
	r.check(echo(keepClient, keepServer))
	before := r.table()
	oracleCut, ok1 := entryTo(before, "tcp", cutAddr)
	oracleKeep, ok2 := entryTo(before, "tcp", keepAddr)
	if !ok1 || !ok2 {
		t.Fatalf("conntrack -L -f ipv6 does not show both IPv6 flows: %+v", before)
	}

	rep := r.json(0, "list", "-6")
	if len(rep.Flows) != 2 {
		t.Fatalf("list -6: %+v, want the two IPv6 flows alone", rep.Flows)
	}
	for _, f := range rep.Flows {
		if f.Family != "ipv6" || f.OrigSrcIP != testnet.ClientV6.String() || f.ID != oracleCut.ID && f.ID != oracleKeep.ID {
			t.Errorf("list -6: %+v; conntrack -L shows ids %d and %d", f, oracleCut.ID, oracleKeep.ID)
		}
	}

	rep = r.json(0, "-y", "-6", "--port", "82")
	if len(rep.Flows) != 1 || rep.Flows[0].Action != "killed" || rep.Flows[0].ID != oracleCut.ID {
		t.Fatalf("cut -6 --port 82: %+v, want the flow to port 82 killed", rep.Flows)
	}
	after := r.table()
	if e, ok := entryTo(after, "tcp", cutAddr); ok {
		t.Errorf("the cut IPv6 flow's entry is still there: %+v", e)
	}
	if e, ok := entryTo(after, "tcp", keepAddr); !ok || e.ID != oracleKeep.ID {
		t.Errorf("the other IPv6 flow's entry is gone or replaced: %+v", e)
	}
	if e, ok := entryTo(after, "tcp", service); !ok {
		t.Errorf("an IPv4 flow's entry is gone: %+v", e)
	}
	if _, err := cutClient.Write([]byte("after the cut\n")); err != nil {
		t.Fatalf("the client's write: %v", err)
	}
	if err := expectSilence(cutServer, 2*time.Second); err != nil {
		t.Errorf("the server of the cut flow: %v", err)
	}
	if err := echo(keepClient, keepServer); err != nil {
		t.Errorf("the other IPv6 flow stopped too: %v", err)
	}
}
