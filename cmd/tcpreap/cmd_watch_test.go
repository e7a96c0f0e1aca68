package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestPolicySelection: a policy's words are read by the command line's own
// options and parser, and refused as it refuses them.
func TestPolicySelection(t *testing.T) {
	sel, err := policySelection(context.Background(), []string{"--state=close_wait", "--idle=2s", "--local-port=8080", "--stalled=false", "--", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Filter.States != 1<<sockdiag.CloseWait || sel.Filter.Idle.Seconds() != 2 || len(sel.Filter.LocalPorts) != 1 || len(sel.Filter.Peers) != 1 {
		t.Errorf("selection %+v", sel.Filter)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"--state=clos_wait"}, `unknown state "clos_wait"`},
		{[]string{"--idle=2x"}, "--idle"},
		{[]string{"--colour=blue"}, "colour is not a selector"},
		{[]string{"--include-self=true"}, "include-self is not a selector"},
		{[]string{"--netns=x"}, "netns is not a selector"},
		{[]string{"--yes=true"}, "yes is not a selector"},
		{[]string{"--idle=2s", "--idle=3s"}, "--idle is given 2 times"},
		{[]string{"--", "999.1.1.1"}, "not a valid IP address"},
		{[]string{"--state=close_wait", "--rate=5"}, "--rate 5: give the rate with its unit"},
		{[]string{"--state=close_wait", "--rate=5/s", "--spread=1m"}, "--rate 5/s and --spread 1m0s: give one of them"},
		{[]string{"--state=close_wait", "--order=idle"}, "--order idle says which sockets go first in a paced run"},
		{[]string{"--local-gone", "--peer-not-in=0.0.0.0/0"}, "the live set takes in every IPv4 address"},
	} {
		if _, err := policySelection(context.Background(), c.words); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error saying %q", c.words, err, c.want)
		}
	}
}

// TestWatchBadInput: watch refuses bad options and a config with errors
// before it serves or destroys anything: exit 2, one line per error.
func TestWatchBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("policies:\n  - name: a\n    action: reap\n    select: {state: clos_wait}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("policies: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"watch"}, []string{"--config: give the policies' file"}},
		{[]string{"watch", "--config", good, "--listen", "127.0.0.1:0", "--netns", "tcpreap-no-such-netns"}, []string{"--netns", "tcpreap-no-such-netns"}},
		{[]string{"watch", "--config", bad, "--interval", "0s"}, []string{"--interval 0s: give 1s to 1h"}},
		{[]string{"watch", "--config", bad, "--top", "0"}, []string{"--top 0"}},
		{[]string{"watch", "--config", bad, "--netns", "a", "--all-netns"}, []string{"give one of them"}},
		{[]string{"watch", "--config", bad, "192.0.2.1"}, []string{"watch takes no PEER"}},
		{[]string{"watch", "--config", filepath.Join(dir, "none.yaml")}, []string{"cannot read the config"}},
		{[]string{"watch", "--config", good, "--listen", "9737"}, []string{"--listen 9737: give a host and a port, such as 127.0.0.1:9737"}},
		{[]string{"watch", "--config", bad}, []string{`policy \"a\": a reap needs a ceiling`, `policy \"a\": select: --state: unknown state \"clos_wait\"`, "nothing was started"}},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want 2; %s", c.args, code, stderr)
		}
		for _, want := range c.want {
			if !strings.Contains(stderr, want) {
				t.Errorf("%q: %s, want %q", c.args, stderr, want)
			}
		}
	}
}
