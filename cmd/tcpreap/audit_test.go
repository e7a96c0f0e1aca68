package main

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
)

func TestAuditLine(t *testing.T) {
	op := host.Operator{UID: 0, User: "root", SudoUser: "alice", SSH: "192.0.2.9 50000 192.0.2.1 22", NetNS: "net:[4026531840]"}
	line := auditLine(op, []string{"tcpreap", "--state", "close_wait", "my peer"}, kill.Summary{Matched: 4, Killed: 3, Gone: 1})
	for _, want := range []string{"user=root uid=0 sudo_user=alice", `ssh="192.0.2.9 50000 192.0.2.1 22"`, `command="tcpreap --state close_wait \"my peer\""`, "matched=4 killed=3 gone=1 failed=0 skipped=0", "netns=net:[4026531840]"} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line %q lacks %q", line, want)
		}
	}
	if line := auditLine(host.Who(), nil, kill.Summary{}); !strings.Contains(line, "uid=") || !strings.Contains(line, "netns=net:[") {
		t.Errorf("audit line of this process %q lacks its uid or network namespace", line)
	}
}
