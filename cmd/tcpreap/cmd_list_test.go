package main

import (
	"runtime"
	"strings"
	"testing"
)

// nobody is a peer no socket of this machine has (a documentation address):
// the commands that only read run against the real kernel without touching
// anything.
const nobody = "198.51.100.77"

func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs NETLINK_SOCK_DIAG")
	}
}

func TestListNothing(t *testing.T) {
	needLinux(t)
	for _, args := range [][]string{{"list", "--json", nobody}, {"ls", "--json", "-4t", nobody}} {
		code, stdout, stderr := runCLI(args...)
		if code != exitOK || stderr != "" || stdout != `{"summary":{"matched":0,"would_kill":0,"killed":0,"gone":0,"failed":0,"skipped":0,"dry_run":true}}`+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	code, stdout, _ := runCLI("list", nobody)
	if code != exitOK || !strings.HasPrefix(stdout, "0 sockets matched: 0 would be destroyed, 0 skipped (dry run") {
		t.Errorf("table: exit %d, %q", code, stdout)
	}
}
