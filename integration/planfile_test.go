package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationPlanApply is the two-step job: plan, then apply after the world moved on.
// Six connections are planned; then half of them are replaced by new connections on the
// same four-tuples. Applying the plan destroys exactly the three originals that are still
// there, reports the three replaced ones gone, and leaves the new connections (same
// tuples, new cookies) carrying data. Before that, plan files that were cut short or
// edited are refused, with nothing destroyed.
func TestIntegrationPlanApply(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
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
	var head struct {
		Plan *struct {
			Version int       `json:"version"`
			BootID  string    `json:"boot_id"`
			Created time.Time `json:"created"`
			Command []string  `json:"command"`
		} `json:"plan"`
	}
	e.check(json.Unmarshal([]byte(lines[0]), &head))
	switch h := head.Plan; {
	case h == nil:
		t.Fatalf("first line %q is not a plan header", lines[0])
	case h.Version != 1:
		t.Errorf("plan version %d, want 1", h.Version)
	case h.BootID != bootID(t):
		t.Errorf("plan boot_id %q, this boot is %q", h.BootID, bootID(t))
	case time.Since(h.Created).Abs() > time.Minute:
		t.Errorf("plan created %v, now is %v", h.Created, time.Now())
	case !slices.Contains(h.Command, "plan") || !slices.Contains(h.Command, p):
		t.Errorf("plan command %q does not have the words it was made with", h.Command)
	}
	var tail struct{ Digest string }
	e.check(json.Unmarshal([]byte(lines[len(lines)-1]), &tail))
	if want := sealOf(strings.Join(lines[:len(lines)-1], "")); tail.Digest != want {
		t.Errorf("plan digest %q, want %q (sha256 of every byte before the summary line)", tail.Digest, want)
	}
	r, err := testnet.ParseReport(stripHeader(t, plan))
	e.check(err)
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

	dir := t.TempDir()
	file := filepath.Join(dir, "plan.ndjson")
	e.check(os.WriteFile(file, []byte(plan), 0o600))
	refused := func(t *testing.T, res testnet.Result) {
		t.Helper()
		if res.Code != 2 {
			t.Errorf("exit %d, want 2", res.Code)
		}
		msg := strings.TrimSuffix(res.Stderr, "\n")
		if !strings.HasPrefix(msg, "tcpreap: plan file ") || !strings.HasSuffix(msg, "nothing was destroyed") {
			t.Errorf("stderr %q, want \"tcpreap: plan file …nothing was destroyed\"", res.Stderr)
		}
		expectUnchanged(t, before, e.sockets())
	}
	t.Run("truncated: head -n 3 into apply -", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		refused(t, e.run(e.Local, "sh", "-c", `head -n 3 "$1" | "$0" apply -`, bin, file))
	})
	t.Run("edited: one digit of a cookie", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		edited := filepath.Join(dir, "edited.ndjson")
		e.check(os.WriteFile(edited, []byte(editCookie(t, plan)), 0o600))
		refused(t, e.tcpreap("apply", edited))
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
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	doomed := []conn{tcp("inbound", e.inbound(l, peer)), tcp("close_wait", e.closeWait(l, peer))}
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
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	pair := e.inbound(l, peer)
	e.inbound(l, peer)
	e.closeWait(l, peer)
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
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		file string
		why  string // a word of the reason stderr must give ("" for any)
	}{
		{"empty", "", "empty"},
		{"blank lines", "\n\n", "empty"},
		{"list --json output", list.Stdout, "header"},
		{"version 2", reseal(t, strings.Replace(plan, `"version":1`, `"version":2`, 1)), "version"},
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
			e := &env{Net: e.Net, t: t}
			if c.file == plan {
				t.Fatal("the edit changed nothing")
			}
			file := filepath.Join(dir, "plan")
			e.check(os.WriteFile(file, []byte(c.file), 0o600))
			res := e.tcpreap("apply", file)
			if res.Code != 2 {
				t.Errorf("exit %d, want 2", res.Code)
			}
			msg := strings.TrimSuffix(res.Stderr, "\n")
			if !strings.HasPrefix(msg, "tcpreap: plan file ") || !strings.HasSuffix(msg, "nothing was destroyed") || strings.Contains(msg, "\n") {
				t.Errorf("stderr %q, want one line \"tcpreap: plan file …nothing was destroyed\"", res.Stderr)
			}
			if !strings.Contains(msg, c.why) {
				t.Errorf("stderr %q does not say why (%q)", res.Stderr, c.why)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}

	t.Run("no such file", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		res := e.tcpreap("apply", filepath.Join(dir, "nonexistent"))
		if res.Code != 2 || !strings.Contains(res.Stderr, "nonexistent") {
			t.Errorf("exit %d, stderr %q; want exit 2 and the file named", res.Code, res.Stderr)
		}
		expectUnchanged(t, before, e.sockets())
	})

	t.Run("resealed unchanged (the control)", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		file := filepath.Join(dir, "plan")
		e.check(os.WriteFile(file, []byte(reseal(t, strings.Replace(plan, `"version":1`, `"version": 1`, 1))), 0o600))
		res := e.tcpreap("apply", "--max", "0", file)
		if res.Code != 3 || !strings.Contains(res.Stderr, "3 sockets would be destroyed") {
			t.Errorf("exit %d, stderr %q; want exit 3 from --max 0: the resealed file should be accepted", res.Code, res.Stderr)
		}
		expectUnchanged(t, before, e.sockets())
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
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	e.inbound(l, peer)
	e.inbound(l, peer)
	plan := e.plan(testnet.PeerV4.String())
	before := e.sockets()
	dir := t.TempDir()
	for _, c := range []struct{ name, old, new string }{
		{"matched", `"matched":2`, `"matched":3`},
		{"would_kill", `"would_kill":2`, `"would_kill":3`},
		{"killed", `"killed":0`, `"killed":1`},
		{"skipped", `"skipped":0`, `"skipped":1`},
		{"the case of a key", `"digest"`, `"Digest"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{Net: e.Net, t: t}
			edited := strings.Replace(plan, c.old, c.new, 1)
			if edited == plan {
				t.Fatalf("%s is not in the plan:\n%s", c.old, plan)
			}
			file := filepath.Join(dir, "plan")
			e.check(os.WriteFile(file, []byte(edited), 0o600))
			res := e.tcpreap("apply", "--max", "0", file)
			if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tcpreap: plan file ") {
				t.Errorf("summary line edited (%s → %s): exit %d, stderr %q; want exit 2 and \"tcpreap: plan file …\"", c.old, c.new, res.Code, res.Stderr)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}
}

// plan runs tcpreap plan with args in host A, requires exit 0, and returns the file.
func (e *env) plan(args ...string) string {
	e.t.Helper()
	res := e.tcpreap(append([]string{"plan"}, args...)...)
	if res.Code != 0 {
		e.t.Fatalf("plan: exit %d, want 0 (stderr: %s)", res.Code, res.Stderr)
	}
	return res.Stdout
}

// stripHeader returns the plan file without its header line: the sockets and the summary
// line, which read like --json output.
func stripHeader(t *testing.T, plan string) string {
	t.Helper()
	head, rest, ok := strings.Cut(plan, "\n")
	if !ok || !strings.HasPrefix(head, `{"plan":{`) {
		t.Fatalf("plan file does not start with a plan header line:\n%s", plan)
	}
	return rest
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
