package main

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

func testPlan() *kill.Plan {
	s := func(state sockdiag.State, fam sockdiag.Family, local, remote string, cookie sockdiag.Cookie) sockdiag.Socket {
		return sockdiag.Socket{Protocol: sockdiag.TCP, Family: fam, State: state, UID: 1000, Inode: 77,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Interface: 2, Cookie: cookie}}
	}
	return &kill.Plan{
		Targets: []sockdiag.Socket{
			s(sockdiag.CloseWait, sockdiag.IPv4, "192.0.2.1:5432", "192.0.2.2:40000", 1<<40|5),
			s(sockdiag.Established, sockdiag.IPv6, "[::ffff:192.0.2.1]:80", "[::ffff:192.0.2.2]:40001", 6),
			s(sockdiag.TimeWait, sockdiag.IPv6, "[2001:db8::1]:443", "[2001:db8::2]:40002", 7),
		},
		Skipped: []kill.Skip{{Socket: s(sockdiag.Listen, sockdiag.IPv4, "192.0.2.1:5432", "0.0.0.0:0", 8), Reason: kill.ReasonListen}},
	}
}

func writeTestPlan(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writePlan(&b, testPlan(), []string{"tcpreap", "plan", "192.0.2.2"}, false); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPlanFileRoundTrip(t *testing.T) {
	got, everything, err := readPlan(writeTestPlan(t))
	if err != nil || everything {
		t.Fatal(everything, err)
	}
	want := testPlan()
	if len(got.Targets) != len(want.Targets) || len(got.Skipped) != 1 {
		t.Fatalf("read back %d targets, %d skipped", len(got.Targets), len(got.Skipped))
	}
	for i := range want.Targets {
		if got.Targets[i] != want.Targets[i] {
			t.Errorf("target %d:\n got %+v\nwant %+v", i, got.Targets[i], want.Targets[i])
		}
	}
	if got.Skipped[0] != want.Skipped[0] {
		t.Errorf("skip: got %+v, want %+v", got.Skipped[0], want.Skipped[0])
	}
}

func TestPlanFileRefusals(t *testing.T) {
	good := string(writeTestPlan(t))
	boot, netns, err := where()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(good, "\n")
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "it is empty"},
		{"blank", "\n\n", "it is empty"},
		{"not a plan", `{"proto":"tcp"}` + "\n", "not a tcpreap plan"},
		{"not json", "hello\n", "not a tcpreap plan"},
		{"other version", strings.Replace(good, `"version":1`, `"version":2`, 1), "version 2 plan"},
		{"truncated at a line", strings.Join(lines[:3], ""), "truncated"},
		{"truncated mid-line", good[:len(good)-10], "truncated"},
		{"only the header", lines[0], "truncated"},
		{"edited cookie", strings.Replace(good, `"cookie":6`, `"cookie":9`, 1), "changed after tcpreap wrote it"},
		{"line removed", lines[0] + strings.Join(lines[2:], ""), "changed after tcpreap wrote it"},
		{"edited boot id", strings.Replace(good, boot, "00000000-0000-0000-0000-000000000000", 1), "changed after tcpreap wrote it"},
		{"summary count edited", strings.Replace(good, `"would_kill":3`, `"would_kill":4`, 1), "its summary line is not the one"},
		{"summary key edited", strings.Replace(good, `"digest"`, `"Digest"`, 1), "its summary line is not the one"},
		{"summary key repeated", strings.Replace(good, `"dry_run":true`, `"dry_run":true,"dry_run":true`, 1), "its summary line is not the one"},
		{"other boot", resign(strings.Replace(good, boot, "00000000-0000-0000-0000-000000000000", 1)), "boot id differs"},
		{"other netns", resign(strings.Replace(good, netns, "net:[1]", 1)), "made in network namespace net:[1]"},
	}
	for _, tt := range tests {
		_, _, err := readPlan([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestPlanFileBadSockets re-signs edited plans, as a careless tool might,
// so that the socket lines themselves are checked.
func TestPlanFileBadSockets(t *testing.T) {
	good := string(writeTestPlan(t))
	for _, tt := range []struct{ from, to, want string }{
		{`"proto":"tcp"`, `"proto":"sctp"`, `unknown proto "sctp"`},
		{`"family":"ipv4"`, `"family":"ipx"`, `unknown family "ipx"`},
		{`"state":"close_wait"`, `"state":"all"`, "not one state"},
		{`"local_ip":"192.0.2.1"`, `"local_ip":"2001:db8::1"`, "not of family ipv4"},
		{`"action":"would_kill"`, `"action":"killed"`, "has no place in a plan"},
		{`"uid":1000`, `"uid":1000,"extra":1`, "unknown field"},
		{`"cookie":6`, `"cookie":0`, "cookie 0 names no socket"},
		{`"cookie":6`, `"cookie":18446744073709551615`, "names no socket"},
	} {
		_, _, err := readPlan([]byte(resign(strings.Replace(good, tt.from, tt.to, 1))))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s → %s: error %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
}

// resign gives an edited plan file the digest of its new contents.
func resign(file string) string {
	lines := strings.SplitAfter(file, "\n")
	body := strings.Join(lines[:len(lines)-2], "")
	trailer := lines[len(lines)-2]
	i := strings.Index(trailer, `"digest":"`) + len(`"digest":"`)
	return body + trailer[:i] + digest([]byte(body)) + trailer[i+len("sha256:")+64:]
}

func TestAuditLine(t *testing.T) {
	line := auditLine([]string{"tcpreap", "--state", "close_wait", "my peer"}, kill.Summary{Matched: 4, Killed: 3, Gone: 1})
	for _, want := range []string{"uid=", `command="tcpreap --state close_wait \"my peer\""`, "matched=4 killed=3 gone=1 failed=0 skipped=0", "netns=net:["} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line %q lacks %q", line, want)
		}
	}
}

func TestPlanSummary(t *testing.T) {
	got := planSummary(testPlan())
	for _, want := range []string{
		"destroys 3 sockets and keeps back 1",
		"1 tcp established: the peer gets a reset",
		"1 tcp time_wait: no reset to the peer",
		"1 tcp close_wait: the peer gets a reset",
		"2 with peer 192.0.2.2",
		"1 with peer 2001:db8::2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yep\n": false} {
		var stderr bytes.Buffer
		ok, err := confirm(terminal{stdin: strings.NewReader(answer), stderr: &stderr}, testPlan())
		if err != nil || ok != want {
			t.Errorf("answer %q: %v, %v; want %v", answer, ok, err, want)
		}
		if !strings.Contains(stderr.String(), "destroy 3 sockets? [y/N] ") {
			t.Errorf("prompt %q", stderr.String())
		}
	}
}

func FuzzReadPlan(f *testing.F) {
	var b bytes.Buffer
	if err := writePlan(&b, testPlan(), []string{"tcpreap", "plan"}, true); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"plan":{"version":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, _, err := readPlan(data)
		if err == nil && plan == nil {
			t.Fatal("no plan and no error")
		}
	})
}

func TestPlanFileRemembersNoSelector(t *testing.T) {
	var b bytes.Buffer
	if err := writePlan(&b, testPlan(), []string{"tcpreap", "plan"}, true); err != nil {
		t.Fatal(err)
	}
	if _, everything, err := readPlan(b.Bytes()); err != nil || !everything {
		t.Fatalf("everything %v, %v; want true", everything, err)
	}
}

// TestSurvivorExitsOne: a kernel that answers 0 and keeps the socket (before
// 6.11, for orphans) gives failed results, the sentence once, and exit 1.
func TestSurvivorExitsOne(t *testing.T) {
	plan := testPlan()
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(plan.Targets), Ineffective: true}
	results := plan.Execute(k.Conn())
	var stderr bytes.Buffer
	err := failures(results, terminal{stderr: &stderr})
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Fatalf("failures: %v, want exit %d", err, exitFailure)
	}
	if n := strings.Count(stderr.String(), "still there"); n != 1 {
		t.Errorf("stderr %q: want the sentence once", stderr.String())
	}
	for _, r := range results[:len(plan.Targets)] {
		if r.Action != kill.Failed || !errors.Is(r.Err, kill.ErrStillPresent) {
			t.Errorf("%s: %s %v, want failed: still present", r.Socket.State, r.Action, r.Err)
		}
	}
}
