// Plan files: tcpreap plan, then tcpreap apply after the world moved on (replaced
// connections reported gone, the new ones untouched), through a pipe, and the files apply
// must refuse: cut short, edited, of another version, boot or network namespace, or with no
// selector and no --all.

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationPlanApply is the two-step job: plan, then apply after the world moved on.
// Six connections are planned; then half of them are replaced by new connections on the
// same four-tuples. Applying the plan destroys exactly the three originals that are still
// there, reports the three replaced ones gone, and leaves the new connections (same
// tuples, new cookies) carrying data. Before that, plan files that were cut short or
// edited are refused, with nothing destroyed.
func TestIntegrationPlanApply(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	var planned []testnet.Pair
	for i := range 6 {
		// Fixed ports in B, so that Reincarnate can dial from the same tuple again.
		planned = append(planned, e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, uint16(47101+i))))
	}
	bystander := e.inbound(l, otherPeer)
	before := e.sockets()

	p := testnet.PeerV4.String()
	plan := e.plan(p)
	expectUnchanged(t, before, e.sockets())

	// The file as a reader sees it, checked independently of tcpreap's own reader.
	lines := strings.SplitAfter(plan, "\n")
	lines = lines[:len(lines)-1] // after the last "\n"
	h, r, netns, err := testnet.ParsePlan(plan)
	e.check(err)
	switch {
	case h.Version != 3:
		t.Errorf("plan version %d, want 3", h.Version)
	case h.BootID != bootID(t):
		t.Errorf("plan boot_id %q, this boot is %q", h.BootID, bootID(t))
	case time.Since(h.Created).Abs() > time.Minute:
		t.Errorf("plan created %v, now is %v", h.Created, time.Now())
	case !slices.Contains(h.Command, "plan") || !slices.Contains(h.Command, p):
		t.Errorf("plan command %q does not have the words it was made with", h.Command)
	case h.Everything:
		t.Error("a plan with a PEER is marked as made with no selector")
	}
	ns := e.netns()
	for i, n := range netns {
		if n != ns {
			t.Errorf("socket %d planned in network namespace %q, host A's is %q", i, n, ns)
		}
	}
	var tail struct{ Digest string }
	e.check(json.Unmarshal([]byte(lines[len(lines)-1]), &tail))
	if want := sealOf(strings.Join(lines[:len(lines)-1], "")); tail.Digest != want {
		t.Errorf("plan digest %q, want %q (sha256 of every byte before the summary line)", tail.Digest, want)
	}
	var all []conn
	for _, q := range planned {
		all = append(all, tcp("planned", q))
	}
	expectRecords(t, r, "would_kill", all...)
	if want := (testnet.Summary{Matched: 6, DryRun: true}); r.Summary != want {
		t.Errorf("plan summary %+v, want %+v", r.Summary, want)
	}

	// The world moves on: every other planned connection closes, and a new one on the same
	// tuple takes its place.
	var replaced, reborn, survivors []conn
	var rebornPairs, survivorPairs []testnet.Pair
	for i, q := range planned {
		if i%2 == 1 {
			survivors = append(survivors, tcp("survivor", q))
			survivorPairs = append(survivorPairs, q)
			continue
		}
		n, err := e.Reincarnate(l, q)
		e.check(err)
		replaced = append(replaced, tcp("replaced", q))
		reborn = append(reborn, tcp("reborn", n))
		rebornPairs = append(rebornPairs, n)
	}
	// One survivor's peer closes: the same socket, now in CLOSE_WAIT, is still planned.
	e.check(e.CloseWait(survivorPairs[2]))
	before = e.sockets()
	expectPresent(t, before, "established", reborn...)
	expectPresent(t, before, "established", survivors[:2]...)
	expectPresent(t, before, "close_wait", survivors[2])

	file := e.writePlan(plan)
	t.Run("truncated: head -n 3 into apply -", func(t *testing.T) {
		e := e.sub(t)
		e.expectPlanRefused(e.run(e.Local, "sh", "-c", `head -n 3 "$1" | "$0" apply -`, bin, file), before)
	})
	t.Run("edited: one digit of a cookie", func(t *testing.T) {
		e := e.sub(t)
		e.expectPlanRefused(e.tcpreap("apply", e.writePlan(editCookie(t, plan))), before)
	})

	r = e.decode(e.tcpreap("apply", "--json", file), 0)
	expectActions(t, r, map[string][]conn{"killed": survivors, "gone": replaced})
	if want := (testnet.Summary{Matched: 6, Killed: 3, Gone: 3}); r.Summary != want {
		t.Errorf("apply summary %+v, want %+v", r.Summary, want)
	}
	ss := e.sockets()
	expectGone(t, ss, survivors...)
	expectPresent(t, ss, "established", reborn...)
	expectPresent(t, ss, "established", tcp("bystander", bystander))
	expectListening(t, ss, l)
	for _, q := range append(rebornPairs, bystander) {
		if err := testnet.Echo(q); err != nil {
			t.Errorf("%s -> %s no longer carries data: %v", q.LocalAddr(), q.RemoteAddr(), err)
		}
	}
	for _, q := range survivorPairs[:2] {
		expectAborted(t, "survivor", q.Local)
		expectReset(t, "survivor", q.Peer)
	}
	expectWriteAborted(t, "survivor in close_wait", survivorPairs[2].Local)
}

// TestIntegrationPlanApplyStdin pipes tcpreap plan into tcpreap apply -.
func TestIntegrationPlanApplyStdin(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	doomed := e.peerSet(l, 1).conns()
	other := tcp("other peer", e.inbound(l, otherPeer))

	r := e.decode(e.run(e.Local, "sh", "-c", `"$0" plan "$1" | "$0" apply --json -`, bin, testnet.PeerV4.String()), 0)
	expectRecords(t, r, "killed", doomed...)
	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", other)
}

// TestIntegrationPlanRefused checks each kind of plan file that apply must not trust: exit
// 2, a sentence that starts "tcpreap: plan file", says why, and ends "nothing was
// destroyed", and the kernel's sockets unchanged. The version and boot id cases are sealed
// again with a correct digest, so only the check they are about can refuse them; the
// "resealed unchanged" control shows that such a file is accepted (it reaches --max 0,
// exit 3), so the resealing is not what gets them refused.
func TestIntegrationPlanRefused(t *testing.T) {
	e := setup(t)
	pair := e.peerSet(e.listenV4(), 2).established[0]
	p := testnet.PeerV4.String()
	plan := e.plan(p)
	before := e.sockets()
	lines := strings.SplitAfter(plan, "\n")
	lines = lines[:len(lines)-1]
	header := lines[0]

	list := e.tcpreap("list", "--json", p)
	if list.Code != 0 {
		t.Fatalf("list: exit %d", list.Code)
	}
	for _, c := range []struct {
		name string
		file string
		why  string // a word of the reason stderr must give ("" for any)
	}{
		{"empty", "", "empty"},
		{"blank lines", "\n\n", "empty"},
		{"list --json output", list.Stdout, "header"},
		{"version 1 (an older tcpreap's)", reseal(t, strings.Replace(plan, `"version":3`, `"version":1`, 1)), "version 1"},
		{"version 2 (one namespace only)", reseal(t, strings.Replace(plan, `"version":3`, `"version":2`, 1)), "version 2"},
		{"version 4", reseal(t, strings.Replace(plan, `"version":3`, `"version":4`, 1)), "version 4"},
		{"edited and resealed: a key in another case", reseal(t, strings.Replace(plan, `"cookie":`, `"Cookie":`, 1)), "edited"},
		{"edited and resealed: a socket moved to another namespace", reseal(t, strings.Replace(plan, `"netns":"net:[`, `"netns":"net:[1`, 1)), "namespace"},
		{"another boot", reseal(t, strings.Replace(plan, bootID(t), "00000000-0000-4000-8000-000000000000", 1)), "boot"},
		{"truncated to the header", header, "truncated"},
		{"truncated: head -n 3", strings.Join(lines[:3], ""), "truncated"},
		{"truncated: the last newline cut", strings.TrimSuffix(plan, "\n"), "truncated"},
		{"truncated in the middle of the summary", plan[:len(plan)-20], "truncated"},
		{"edited: one digit of a cookie", editCookie(t, plan), "digest"},
		{"edited: a socket line removed", lines[0] + strings.Join(lines[2:], ""), ""},
		{"edited: the command in the header", strings.Replace(plan, `"plan","`+p, `"plan","192.0.2.3`, 1), "digest"},
		{"edited: one digit of the digest", editDigest(t, plan), "digest"},
		{"edited: a line appended", plan + lines[len(lines)-1], ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			if c.file == plan {
				t.Fatal("the edit changed nothing")
			}
			res := e.tcpreap("apply", e.writePlan(c.file))
			e.expectPlanRefused(res, before)
			msg := strings.TrimSuffix(res.Stderr, "\n")
			if strings.Contains(msg, "\n") {
				t.Errorf("stderr %q, want one line", res.Stderr)
			}
			if !strings.Contains(msg, c.why) {
				t.Errorf("stderr %q does not say why (%q)", res.Stderr, c.why)
			}
		})
	}

	t.Run("who may write it", func(t *testing.T) {
		e := e.sub(t)
		file := e.writePlan(plan)
		e.check(os.Chmod(file, 0o666))
		res := e.tcpreap("apply", file)
		e.expectPlanRefused(res, before)
		if !strings.Contains(res.Stderr, "group or others may write it") {
			t.Errorf("a plan file anyone may write: stderr %q", res.Stderr)
		}
		e.check(os.Chmod(file, 0o644))
		e.check(os.Chown(file, 65534, 65534))
		res = e.tcpreap("apply", file)
		e.expectPlanRefused(res, before)
		if !strings.Contains(res.Stderr, "neither root nor you") {
			t.Errorf("a plan file of another user: stderr %q", res.Stderr)
		}
	})

	t.Run("/dev/zero, at once", func(t *testing.T) {
		e := e.sub(t)
		start := time.Now()
		res := e.run(e.Local, "sh", "-c", `"$0" apply - < /dev/zero`, bin)
		if d := time.Since(start); d > time.Second {
			t.Errorf("apply - < /dev/zero took %v", d)
		}
		e.expectPlanRefused(res, before)
	})

	t.Run("the same cookie twice, resealed", func(t *testing.T) {
		e := e.sub(t)
		l := strings.SplitAfter(plan, "\n")
		twice := reseal(t, strings.Replace(l[0], `"sockets":3`, `"sockets":4`, 1)+l[1]+strings.Join(l[1:], ""))
		res := e.tcpreap("apply", e.writePlan(twice))
		e.expectPlanRefused(res, before)
		if !strings.Contains(res.Stderr, "a cookie names one socket") {
			t.Errorf("stderr %q", res.Stderr)
		}
	})

	t.Run("a name that would move the cursor", func(t *testing.T) {
		e := e.sub(t)
		file := filepath.Join(t.TempDir(), "\x1b[2K\x1b[1Aplan")
		e.check(os.WriteFile(file, []byte(editCookie(t, plan)), 0o600))
		res := e.tcpreap("apply", file)
		e.expectPlanRefused(res, before)
		if strings.ContainsAny(res.Stderr, "\x1b") || !strings.Contains(res.Stderr, `\x1b[2K`) {
			t.Errorf("stderr %q: the escape sequence in the file name reached the terminal", res.Stderr)
		}
	})

	t.Run("no such file", func(t *testing.T) {
		e := e.sub(t)
		res := e.tcpreap("apply", filepath.Join(t.TempDir(), "nonexistent"))
		e.expectNothingDestroyed(res, 2, before)
		if !strings.Contains(res.Stderr, "nonexistent") {
			t.Errorf("stderr %q does not name the file", res.Stderr)
		}
	})

	t.Run("resealed unchanged (the control)", func(t *testing.T) {
		e := e.sub(t)
		res := e.tcpreap("apply", "--max", "0", e.writePlan(reseal(t, plan)))
		e.expectNothingDestroyed(res, 3, before)
		if !strings.Contains(res.Stderr, "3 sockets would be destroyed") {
			t.Errorf("stderr %q; want --max 0's refusal: the resealed file should be accepted", res.Stderr)
		}
	})
	if err := testnet.Echo(pair); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}

// TestIntegrationPlanTrailerEdited changes one byte of the summary line, which the digest
// does not cover (it covers every byte before that line). Any changed byte must still be
// refused. A file that passes goes on to --max 0, which refuses it with exit 3, so this
// test destroys nothing even when tcpreap accepts the edit.
func TestIntegrationPlanTrailerEdited(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	e.inbound(l, peer)
	e.inbound(l, peer)
	plan := e.plan(testnet.PeerV4.String())
	before := e.sockets()
	for _, c := range []struct{ name, old, new string }{
		{"targets", `"targets":2`, `"targets":3`},
		{"skipped", `"skipped":0`, `"skipped":1`},
		{"a key added", `"skipped":0`, `"skipped":0,"matched":2`},
		{"the case of a key", `"digest"`, `"Digest"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			edited := strings.Replace(plan, c.old, c.new, 1)
			if edited == plan {
				t.Fatalf("%s is not in the plan:\n%s", c.old, plan)
			}
			res := e.tcpreap("apply", "--max", "0", e.writePlan(edited))
			e.expectNothingDestroyed(res, 2, before)
			if !strings.HasPrefix(res.Stderr, "tcpreap: plan file ") {
				t.Errorf("summary line edited (%s → %s): stderr %q; want \"tcpreap: plan file …\"", c.old, c.new, res.Stderr)
			}
		})
	}
}

// TestIntegrationPlanWhereItWasMade: a plan names sockets of one boot and
// one network namespace, and one with no selector needs --all to apply.
func TestIntegrationPlanWhereItWasMade(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	p := e.inbound(l, peer)

	plan := e.writePlan(e.plan("192.0.2.2"))
	res := e.run(e.Peer, bin, "apply", plan)
	if res.Code != 2 || !strings.Contains(res.Stderr, "are in network namespace") ||
		!strings.Contains(res.Stderr, "apply the plan where it was made (ip netns exec, nsenter --net), or make it with --netns; nothing was destroyed") {
		t.Errorf("apply in another namespace: exit %d, stderr %q; want 2 and the namespace named", res.Code, res.Stderr)
	}

	plan = e.writePlan(e.plan())
	res = e.tcpreap("apply", plan)
	if res.Code != 2 || !strings.Contains(res.Stderr, "apply it with --all") {
		t.Errorf("apply of a plan with no selector: exit %d, stderr %q; want 2 and --all", res.Code, res.Stderr)
	}
	expectPresent(t, e.sockets(), "established", tcp("planned", p))

	res = e.tcpreap("apply", "--all", plan)
	if res.Code != 0 {
		t.Errorf("apply --all: exit %d, stderr %q", res.Code, res.Stderr)
	}
	ss := e.sockets()
	expectGone(t, ss, tcp("planned", p))
	expectListening(t, ss, l)
}

// expectPlanRefused fails unless apply refused its plan file: exit 2, stderr
// "tcpreap: plan file …nothing was destroyed", and host A's sockets as they were before.
func (e *env) expectPlanRefused(res testnet.Result, before testnet.Sockets) {
	e.t.Helper()
	e.expectNothingDestroyed(res, 2, before)
	msg := strings.TrimSuffix(res.Stderr, "\n")
	if !strings.HasPrefix(msg, "tcpreap: plan file ") || !strings.HasSuffix(msg, "nothing was destroyed") {
		e.t.Errorf("stderr %q, want \"tcpreap: plan file …nothing was destroyed\"", res.Stderr)
	}
}

func bootID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func sealOf(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "sha256:" + hex.EncodeToString(sum[:])
}

var digestRE = regexp.MustCompile(`"digest":"sha256:[0-9a-f]{64}"`)

// reseal writes the right digest into a plan file's last line, for a file edited on
// purpose whose other checks a test wants to reach.
func reseal(t *testing.T, plan string) string {
	t.Helper()
	body := strings.TrimSuffix(plan, "\n")
	i := strings.LastIndexByte(body, '\n') + 1
	last := body[i:]
	if !digestRE.MatchString(last) {
		t.Fatalf("no digest in the last line %q", last)
	}
	return body[:i] + digestRE.ReplaceAllLiteralString(last, `"digest":"`+sealOf(body[:i])+`"`) + "\n"
}

var cookieRE = regexp.MustCompile(`"cookie":[0-9]+`)

// editCookie changes the last digit of the first cookie in the file.
func editCookie(t *testing.T, plan string) string {
	t.Helper()
	loc := cookieRE.FindStringIndex(plan)
	if loc == nil {
		t.Fatalf("no cookie in the plan:\n%s", plan)
	}
	return bumpDigit(plan, loc[1]-1)
}

// editDigest changes the last hex digit of the digest.
func editDigest(t *testing.T, plan string) string {
	t.Helper()
	loc := digestRE.FindStringIndex(plan)
	if loc == nil {
		t.Fatalf("no digest in the plan:\n%s", plan)
	}
	return bumpDigit(plan, loc[1]-2)
}

// bumpDigit replaces the decimal or hex digit at s[i] by another one.
func bumpDigit(s string, i int) string {
	d := byte('1')
	if s[i] == '1' {
		d = '2'
	}
	return s[:i] + string(d) + s[i+1:]
}

// netns is host A's network namespace as the kernel names it: "net:[4026532177]".
func (e *env) netns() string {
	e.t.Helper()
	res := e.run(e.Local, "readlink", "/proc/self/ns/net")
	if res.Code != 0 {
		e.t.Fatalf("readlink /proc/self/ns/net: exit %d", res.Code)
	}
	return strings.TrimSpace(res.Stdout)
}

// TestIntegrationPlanApplyChangedSockets: between plan and apply, planned sockets become
// other kinds of sockets with the same cookie: a connection that A closed is now TIME_WAIT,
// a connected UDP socket is now unconnected. apply looks every target up again and keeps
// those back, each with its state now and the reason; the one that is still the planned
// connection is destroyed.
func TestIntegrationPlanApplyChangedSockets(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	closing := e.inbound(l, peer)
	kept := e.inbound(l, peer)
	dgram := e.boundUDP(47999)
	plan := e.writePlan(e.plan("-t", "-u", testnet.PeerV4.String()))

	e.check(e.TimeWait(closing))
	e.check(disconnectUDP(dgram.Local))
	ss := e.sockets()
	expectPresent(t, ss, "time_wait", tcp("closed since the plan", closing))

	r := e.decode(e.tcpreap("apply", "--json", plan), 0)
	expectActions(t, r, map[string][]conn{"killed": {tcp("still the planned connection", kept)}, "skipped": {tcp("now time_wait", closing), udpUnconnected("now unconnected", dgram)}})
	for _, rec := range r.Sockets {
		switch rec.Cookie {
		case closing.Cookie:
			if rec.State != "time_wait" || rec.Reason != "changed since the plan: now TIME-WAIT" {
				t.Errorf("the socket that A closed: state %q, reason %q", rec.State, rec.Reason)
			}
		case dgram.Cookie:
			if rec.State != "close" || rec.Reason != "changed since the plan: now UNCONN" {
				t.Errorf("the disconnected UDP socket: state %q, reason %q", rec.State, rec.Reason)
			}
		}
	}
	ss = e.sockets()
	expectPresent(t, ss, "time_wait", tcp("closed since the plan", closing))
	expectGone(t, ss, tcp("still the planned connection", kept))
	udps := e.decode(e.tcpreap("list", "--json", "-u", "--state", "all"), 0)
	if !slices.Contains(udps.Cookies("skipped"), dgram.Cookie) {
		t.Errorf("the disconnected UDP socket is not in the kernel any more: %+v", udps.Sockets)
	}
}

// boundUDP is a UDP socket of A bound to 192.0.2.1:port and connected to a socket of B.
// Bound to its port, it stays in the kernel's table when it is disconnected.
func (e *env) boundUDP(port uint16) testnet.UDPPair {
	e.t.Helper()
	var peerConn, local *net.UDPConn
	e.check(e.Peer.Do(func() (err error) {
		peerConn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(testnet.PeerV4, 0)))
		return err
	}))
	e.t.Cleanup(func() { peerConn.Close() })
	e.check(e.Local.Do(func() (err error) {
		local, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(testnet.LocalV4, port)), peerConn.LocalAddr().(*net.UDPAddr))
		return err
	}))
	e.t.Cleanup(func() { local.Close() })
	rc, err := local.SyscallConn()
	e.check(err)
	var cookie uint64
	var serr error
	e.check(rc.Control(func(fd uintptr) { cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) }))
	e.check(serr)
	return testnet.UDPPair{Local: local, Peer: peerConn, Cookie: cookie}
}

// udpUnconnected is a UDP socket of A that was disconnected: its tuple now has no peer.
func udpUnconnected(name string, p testnet.UDPPair) conn {
	return conn{name, p.LocalAddr(), netip.AddrPortFrom(netip.IPv4Unspecified(), 0), p.Cookie}
}

// disconnectUDP dissolves a UDP socket's association (connect with AF_UNSPEC): the same
// socket, with the same cookie, unconnected and still bound.
func disconnectUDP(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		sa := unix.RawSockaddrInet4{Family: unix.AF_UNSPEC}
		_, _, errno := unix.Syscall(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
		if errno != 0 {
			serr = errno
		}
	})
	return errors.Join(err, serr)
}

// TestIntegrationPlanApplyReconnectedUDP: a connected UDP socket planned for its peer is
// connected to another peer before the plan is applied; the kernel keeps its cookie.
// apply's re-check takes it as it is now and destroys the connection with the other peer,
// which nobody reviewed. A socket whose tuple is no longer the planned one is not the
// planned connection.
func TestIntegrationPlanApplyReconnectedUDP(t *testing.T) {
	e := setup(t)
	d := e.boundUDP(47997)
	planned := d.RemoteAddr().String()
	plan := e.writePlan(e.plan("-u", planned))
	rc, err := d.Local.SyscallConn()
	e.check(err)
	var cerr error
	e.check(rc.Control(func(fd uintptr) {
		cerr = unix.Connect(int(fd), &unix.SockaddrInet4{Port: 9, Addr: testnet.OtherPeerV4.As4()})
	}))
	e.check(cerr)
	r := e.decode(e.tcpreap("apply", "--json", plan), 0)
	for _, rec := range r.Sockets {
		if rec.Cookie == d.Cookie && rec.Action == "killed" {
			t.Errorf("apply killed the socket planned with peer %s, now connected to %s:%d: not the planned connection", planned, rec.RemoteIP, rec.RemotePort)
		}
	}
}
