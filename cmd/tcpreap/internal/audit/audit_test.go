package audit

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
)

func TestAuditLine(t *testing.T) {
	op := host.Operator{UID: 0, User: "root", SudoUser: "alice", SSH: "192.0.2.9 50000 192.0.2.1 22", NetNS: "net:[4026531840]"}
	line := record(op, []string{"tcpreap", "--state", "close_wait", "my peer"}, nil, nil, inet.Summary{Matched: 4, Killed: 3, Gone: 1})
	for _, want := range []string{`user="root" uid=0 sudo_user="alice"`, `ssh="192.0.2.9 50000 192.0.2.1 22"`, `command="tcpreap --state close_wait \"my peer\""`, "matched=4 killed=3 gone=1 failed=0 skipped=0", `netns="net:[4026531840]"`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line %q lacks %q", line, want)
		}
	}
	if line := record(host.Who(), nil, nil, nil, inet.Summary{}); !strings.Contains(line, "uid=") || !strings.Contains(line, `netns="net:[`) {
		t.Errorf("audit line of this process %q lacks its uid or network namespace", line)
	}
}

// TestAuditLinePending: destroys that may still happen are counted, after the others.
func TestAuditLinePending(t *testing.T) {
	line := record(host.Operator{}, []string{"tcpreap"}, nil, nil, inet.Summary{Matched: 3, Killed: 1, Pending: 2})
	if !strings.HasSuffix(line, " matched=3 killed=1 gone=0 failed=0 skipped=0 pending=2") {
		t.Errorf("audit line %q does not count the pending destroys", line)
	}
}

// TestAuditLineCannotBeForged: a newline or a quote in a value from the
// environment stays inside its quoted field.
func TestAuditLineCannotBeForged(t *testing.T) {
	op := host.Operator{UID: 0, User: "root", SudoUser: "eve\ntcpreap[1]: uid=0 command=\"fake\"", SSH: "x\" killed=0"}
	line := record(op, []string{"tcpreap", "a\nb"}, nil, nil, inet.Summary{})
	if strings.ContainsAny(line, "\n\r") {
		t.Errorf("audit line %q has a line break", line)
	}
	// Outside the quoted values, the line is its fields and nothing else.
	bare := regexp.MustCompile(`"(\\.|[^"\\])*"`).ReplaceAllString(line, `""`)
	if bare != `user="" uid=0 sudo_user="" ssh="" command="" matched=0 killed=0 gone=0 failed=0 skipped=0` {
		t.Errorf("audit line %q: a value left its field (%q)", line, bare)
	}
}

// TestAuditHasADeadline: a system logger that takes nothing (its queue is
// full) holds tcpreap at most timeout, and says so.
func TestAuditHasADeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	stalled, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fill, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	for { // fill the logger's queue
		_ = fill.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := fill.Write(make([]byte, 1024)); err != nil {
			break
		}
	}
	t.Setenv(SocketEnv, path)
	start := time.Now()
	err = Write([]string{"tcpreap"}, nil, nil, inet.Summary{})
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("audit took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("audit to a stalled logger: %v", err)
	}
	t.Setenv(SocketEnv, filepath.Join(t.TempDir(), "none"))
	if err := Write([]string{"tcpreap"}, nil, nil, inet.Summary{}); err == nil || !strings.Contains(err.Error(), "--no-audit") {
		t.Errorf("audit with no logger: %v", err)
	}
}

// TestAuditLineIsBounded: however long the command line or the environment,
// the line fits a datagram and keeps its counts.
func TestAuditLineIsBounded(t *testing.T) {
	op := host.Operator{UID: 0, User: "root", SudoUser: strings.Repeat("u", 1000), SSH: strings.Repeat("1", 120000)}
	args := []string{"tcpreap"}
	for range 12000 {
		args = append(args, "192.0.2.2")
	}
	line := record(op, args, nil, nil, inet.Summary{Matched: 3, Killed: 3})
	if len(line) > 2048 || !strings.HasSuffix(line, "matched=3 killed=3 gone=0 failed=0 skipped=0") || !strings.Contains(line, "more bytes)") {
		t.Errorf("audit line of %d bytes: …%s", len(line), line[max(0, len(line)-200):])
	}
}

// TestRecordNamesTargetNamespaces: the line names the namespaces whose
// sockets were acted on, tcpreap's own by its identity, others as given,
// and one with a quote or a newline in its name cannot forge a field.
func TestRecordNamesTargetNamespaces(t *testing.T) {
	op := host.Operator{UID: 0, NetNS: "net:[4026531840]"}
	for _, tc := range []struct {
		spaces []string
		want   string
	}{
		{nil, `netns="net:[4026531840]"`},
		{[]string{"web1"}, `netns="web1"`},
		{[]string{"", "pid:4711 (nginx)"}, `netns="net:[4026531840], pid:4711 (nginx)"`},
		{[]string{"evil\" killed=999\nx"}, `netns="evil\" killed=999\nx"`},
	} {
		line := record(op, []string{"tcpreap"}, tc.spaces, nil, inet.Summary{Killed: 1})
		if !strings.Contains(line, tc.want) || !strings.HasSuffix(line, " matched=0 killed=1 gone=0 failed=0 skipped=0") || strings.Contains(line, "\n") {
			t.Errorf("%q: %s, want %s", tc.spaces, line, tc.want)
		}
	}
}

// TestAuditLineEngine: the engines that acted are named, in a field of
// their own.
func TestAuditLineEngine(t *testing.T) {
	line := record(host.Operator{}, []string{"tcpreap", "--engine", "auto"}, nil, []string{"diag", "fd"}, inet.Summary{Matched: 2, Killed: 2})
	if !strings.Contains(line, " engine=diag,fd command=") {
		t.Errorf("audit line %q does not name the engines diag and fd", line)
	}
}
