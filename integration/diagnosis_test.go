package integration

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationIdle: --idle 2s destroys the connection that has been silent for 3 s and
// spares the one that exchanged data within the last second.
func TestIntegrationIdle(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	silent := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	active := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	time.Sleep(3 * time.Second)
	exchange(t, active.Peer, active.Local)
	exchange(t, active.Local, active.Peer)
	port := strconv.Itoa(int(silent.LocalAddr().Port()))
	// list -e shows how long each has been idle.
	idle := map[uint64]int64{}
	for _, rec := range e.json(0, "list", "-e", "--local-port", port).Sockets {
		idle[rec.Cookie] = rec.IdleMS
	}
	if idle[silent.Cookie] < 2900 || idle[active.Cookie] > 1000 {
		t.Errorf("list -e: silent idle %d ms, active %d ms; want about 3000 and under 1000", idle[silent.Cookie], idle[active.Cookie])
	}
	// A list --idle shows the Idle column, and the silent one alone.
	table := e.tcpreap("list", "--idle", "2s", "--local-port", port)
	if lines := strings.Split(strings.TrimSpace(table.Stdout), "\n"); table.Code != 0 || len(lines) != 3 ||
		!strings.HasSuffix(strings.TrimSpace(lines[0]), "Idle") || !strings.HasSuffix(strings.TrimSpace(lines[1]), "3s") {
		t.Errorf("list --idle 2s: exit %d, want a table with an Idle column and the silent one, idle 3s:\n%s", table.Code, table.Stdout)
	}
	r := e.json(0, "-y", "--idle", "2s", "--local-port", port)
	expectRecords(t, r, "killed", tcp("silent", silent))
	ss := e.sockets()
	expectGone(t, ss, tcp("silent", silent))
	expectPresent(t, ss, "established", tcp("active", active))
	expectReset(t, "silent", silent.Peer)
}

// TestIntegrationStalled: a client in A sent data to a peer that then went away (B's link
// down: every packet to it is lost): after --stalled-for 3s its connection is selected,
// and a healthy connection with data in flight (over loopback, its acks coming) is not.
func TestIntegrationStalled(t *testing.T) {
	e := setup(t)
	server := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	stuck := e.outbound(server)
	healthy := e.loopbackFlow()
	e.run(e.Peer, "ip", "link", "set", "veth0", "down")
	if _, err := stuck.Local.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	// Too early: nothing has gone unacknowledged for 10 s.
	if r := e.json(0, "list", "--stalled", "--stalled-for", "10s"); len(r.Sockets) != 0 {
		t.Errorf("--stalled-for 10s, 3.5 s after the peer went: %d sockets selected", len(r.Sockets))
	}
	r := e.json(0, "-y", "--stalled", "--stalled-for", "3s")
	expectRecords(t, r, "killed", tcp("stuck", stuck))
	ss := e.sockets()
	expectGone(t, ss, tcp("stuck", stuck))
	expectPresent(t, ss, "established", tcp("healthy", healthy))
}

// exchange sends one byte from one end and reads it at the other.
func exchange(t *testing.T, from, to *net.TCPConn) {
	t.Helper()
	if _, err := from.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	to.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(to, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// loopbackFlow is a connection inside A, over loopback, that carries data until the test
// ends: it always has some in flight, and its acks come.
func (e *env) loopbackFlow() testnet.Pair {
	e.t.Helper()
	l := e.listen(e.Local, netip.MustParseAddrPort("127.0.0.1:0"))
	var client net.Conn
	e.check(e.Local.Do(func() (err error) {
		client, err = net.Dial("tcp", l.Addr().String())
		return err
	}))
	server, err := l.AcceptTCP()
	e.check(err)
	stop := make(chan struct{})
	e.t.Cleanup(func() { close(stop); client.Close(); server.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := client.Write(buf); err != nil {
				return
			}
		}
	}()
	go io.Copy(io.Discard, server)
	p, err := testnet.PairOf(client.(*net.TCPConn), server)
	e.check(err)
	return p
}

// TestIntegrationDoctor: with A's local port range narrowed to 10 ports and 6 of them in
// TIME_WAIT towards one destination, doctor warns of that destination (exit 1) and names
// the command that relieves it, on a line of its own in the text; what it says of SOCK_DESTROY is the kernel's own answer
// to a probe the test sends itself.
func TestIntegrationDoctor(t *testing.T) {
	e := setup(t)
	e.run(e.Local, "sh", "-c", "echo '40000 40009' > /proc/sys/net/ipv4/ip_local_port_range")
	server := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	for range 6 {
		p := e.outbound(server)
		e.check(p.Local.Close()) // A closes first: TIME_WAIT in A, on its local port
		e.check(p.Peer.Close())
	}
	dest := server.Addr().(*net.TCPAddr).AddrPort()
	_, err := e.Local.Await("six TIME_WAIT sockets", func(ss testnet.Sockets) bool {
		n := 0
		for _, s := range ss {
			if s.State == "time_wait" && s.Remote == dest {
				n++
			}
		}
		return n == 6
	})
	e.check(err)
	res := e.tcpreap("doctor", "--json")
	var report struct {
		Warn     bool `json:"warn"`
		Findings []struct {
			Check       string `json:"check"`
			Destination string `json:"destination"`
			Warn        bool   `json:"warn"`
			Says        string `json:"says"`
			Remedy      string `json:"remedy"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil {
		t.Fatal(err)
	}
	if res.Code != 1 || !report.Warn {
		t.Errorf("doctor: exit %d, warn %v; want 1, true", res.Code, report.Warn)
	}
	says := map[string]string{}
	warns := map[string]bool{}
	remedies := map[string]string{}
	for _, f := range report.Findings {
		key := f.Check // a stable key; what a finding of several is about is a field
		if f.Destination != "" {
			key += " " + f.Destination
		}
		says[key], warns[key], remedies[key] = f.Says, f.Warn, f.Remedy
	}
	check := "ports " + dest.String()
	relief := "tcpreap --state time_wait " + dest.String()
	if !warns[check] || !strings.Contains(says[check], "6 of the 10 local ports") || !strings.HasSuffix(says[check], "; relieve it with: "+relief) || remedies[check] != relief {
		t.Errorf("doctor on %s: %q, remedy %q (warn %v)", check, says[check], remedies[check], warns[check])
	}
	// The text puts the command that relieves it whole on a line of its own.
	res = e.tcpreap("doctor")
	if !slices.Contains(strings.Split(res.Stdout, "\n"), "     "+relief) {
		t.Errorf("doctor's text has no line of its own for %q:\n%s", relief, res.Stdout)
	}
	// Of another namespace (--netns): the command works there too, copied as it is, and
	// selects the very sockets the warning counts.
	res = e.run(e.Peer, bin, "doctor", "--netns", e.Local.Name)
	inNS := "tcpreap --netns " + e.Local.Name + " --state time_wait " + dest.String()
	if !slices.Contains(strings.Split(res.Stdout, "\n"), "     "+inNS) {
		t.Errorf("doctor --netns %s has no line of its own for %q:\n%s", e.Local.Name, inNS, res.Stdout)
	}
	copied := strings.Fields(strings.Replace(inNS, "tcpreap", bin+" -n --json", 1))
	if r := e.decode(e.run(e.Peer, copied...), 0); r.Summary.Matched != 6 {
		t.Errorf("%s, run as doctor says it: %d sockets, want the 6 in TIME_WAIT", inNS, r.Summary.Matched)
	}
	errno := destroyProbe(t, e.Local)
	can := errno == unix.ENOENT
	if warns["sock_destroy_tcp"] == can || strings.Contains(says["sock_destroy_tcp"], "cannot") == can {
		t.Errorf("the kernel answers a destroy of no socket with %v, and doctor says %q", errno, says["sock_destroy_tcp"])
	}
	// The diag modules: a dump shows the doctor's own sockets on loopback, which it
	// leaves behind in no state.
	for _, m := range []string{"tcp_diag", "udp_diag"} {
		if warns[m] || !strings.Contains(says[m], "a dump found tcpreap's own on 127.0.0.1:") {
			t.Errorf("doctor on %s: %q (warn %v)", m, says[m], warns[m])
		}
	}
	ss := e.sockets()
	for _, s := range ss {
		if s.Local.Addr().IsLoopback() {
			t.Errorf("doctor left a socket on loopback: %v", s)
		}
	}
	// Without loopback up the doctor cannot check, and says so.
	e.run(e.Local, "ip", "link", "set", "lo", "down")
	res = e.tcpreap("doctor")
	if !strings.Contains(unwrapped(res.Stdout), "ok   tcp_diag: tcp sockets can be listed (an empty dump answered); whether dumps miss none was not checked: the loopback interface is not up") {
		t.Errorf("doctor with loopback down:\n%s", res.Stdout)
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if utf8.RuneCountInString(line) > 100 {
			t.Errorf("doctor's line is wider than 100 columns: %q", line)
		}
	}
}

// unwrapped is doctor's text with each finding on one line again: its lines after the
// first start with five spaces.
func unwrapped(text string) string {
	return strings.ReplaceAll(text, "\n     ", " ")
}

// destroyProbe sends, in h, a SOCK_DESTROY for an all-zero IPv4 TCP sockid and returns
// the kernel's errno: ENOENT where the kernel has SOCK_DESTROY, EOPNOTSUPP where not.
func destroyProbe(t *testing.T, h *testnet.Host) unix.Errno {
	t.Helper()
	var errno unix.Errno
	err := h.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		msg := make([]byte, 16+56)
		binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
		binary.NativeEndian.PutUint16(msg[4:], 21) // SOCK_DESTROY
		binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
		msg[16], msg[17] = unix.AF_INET, unix.IPPROTO_TCP
		binary.NativeEndian.PutUint32(msg[16+48:], 12345) // a cookie no socket has
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		buf := make([]byte, 4096)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		if n < 20 || binary.NativeEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
			return fmt.Errorf("the answer to SOCK_DESTROY is no ack")
		}
		errno = unix.Errno(-int32(binary.NativeEndian.Uint32(buf[16:])))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return errno
}

// TestIntegrationTimers: list -e shows each socket's timer as the kernel reports it: a
// TIME_WAIT socket's timewait timer, due within 60 s; a connection with keepalive on
// (idle 90 s) its keepalive timer, due within 90 s; one with keepalive off, none.
func TestIntegrationTimers(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	tw := e.timeWait(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	ka := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	e.check(ka.Local.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 90 * time.Second, Interval: 10 * time.Second, Count: 3}))
	off := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	e.check(off.Local.SetKeepAlive(false)) // Go turns it on for every accepted connection
	port := strconv.Itoa(int(l.Addr().(*net.TCPAddr).Port))
	// list's "timer" is a name; a plan file's (a Record's) is the kernel's number.
	type record struct {
		Cookie  uint64 `json:"cookie"`
		Timer   string `json:"timer"`
		TimerMS int64  `json:"timer_ms"`
	}
	got := map[uint64]record{}
	out := e.tcpreapJSON("list", "-e", "--local-port", port)
	if out.Code != 0 {
		t.Fatalf("list -e --json: exit %d: %s", out.Code, out.Stderr)
	}
	for line := range strings.Lines(out.Stdout) {
		var rec record
		e.check(json.Unmarshal([]byte(line), &rec))
		if rec.Cookie != 0 {
			got[rec.Cookie] = rec
		}
	}
	for _, c := range []struct {
		name   string
		cookie uint64
		timer  string
		maxMS  int64
	}{
		{"time_wait", tw.Cookie, "timewait", 60_000},
		{"keepalive", ka.Cookie, "keepalive", 90_000},
		{"keepalive off", off.Cookie, "off", 0},
	} {
		rec, ok := got[c.cookie]
		switch {
		case !ok:
			t.Errorf("%s: not listed (%+v)", c.name, got)
		case rec.Timer != c.timer || rec.TimerMS > c.maxMS || c.maxMS > 0 && rec.TimerMS < c.maxMS-10_000:
			t.Errorf("%s: timer %q in %d ms, want %q within %d ms", c.name, rec.Timer, rec.TimerMS, c.timer, c.maxMS)
		}
	}
	// The table: a Timer column as ss's timer:(…), and no line wider than 100 columns.
	res := e.tcpreap("list", "-e", "--local-port", port)
	if res.Code != 0 || !strings.Contains(res.Stdout, " Timer\n") || !strings.Contains(res.Stdout, "keepalive,1m") ||
		!strings.Contains(res.Stdout, "timewait,") || !strings.Contains(res.Stdout, "  off\n") {
		t.Errorf("list -e: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if len(line) > 100 {
			t.Errorf("list -e: a line of %d columns: %s", len(line), line)
		}
	}
	t.Logf("list -e:\n%s", res.Stdout)
}
