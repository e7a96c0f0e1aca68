package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the command line with no terminal and returns the exit code,
// stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := runArgs(context.Background(), append([]string{"tcpreap"}, args...), streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	return code, stdout.String(), stderr.String()
}

// TestBadInput runs the command line on words that must be refused before
// any socket is touched: exit 2 and one sentence naming the problem.
func TestBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--state", "bogus", "192.0.2.2"}, `unknown state "bogus"`},
		{[]string{"--port", "nosuchservice"}, `unknown service "nosuchservice"`},
		{[]string{"--port", "9-2"}, "runs backwards"},
		{[]string{"--sport", "70000"}, "out of range"},
		{[]string{"999.1.1.1"}, "not a valid IP address"},
		{[]string{"--local", "192.0.2.1/33"}, "not a valid CIDR prefix"},
		{[]string{"[2001:db8::2"}, "no closing bracket"},
		{[]string{"--interface", "nosuchif0"}, `no interface named "nosuchif0"`},
		{[]string{"-n"}, "refusing to destroy every socket"},
		{[]string{"-n", "--port", "0-65535"}, "give --all"},
		{[]string{"conntrack", "-n"}, "refusing to delete every conntrack entry"},
		{nil, "refusing to destroy every socket"},
		{[]string{"-u", "-6"}, "refusing to destroy every socket"},
		{[]string{"--state", "all"}, "refusing to destroy every socket"},
		{[]string{"-u", "--state", "established,close"}, "refusing to destroy every socket"},
		{[]string{"--interface", "", "--state", "established"}, "--interface: the value is empty"},
		{[]string{"list", "--netns", ""}, "--netns: the value is empty"},
		{[]string{"list", "--idle", " "}, "--idle: the value is empty"},
		{[]string{"list", "--state", "established,,close_wait"}, `--state: unknown state ""`},
		{[]string{"list", "--local", "192.0.2.1,,192.0.2.2"}, `--local: "" is not a valid IP address`},
		{[]string{"list", "--max", "3", "--max", "4"}, "--max is given 2 times"},
		{[]string{"conntrack", "list", "--zone", "1", "--zone=2"}, "--zone is given 2 times"},
		{[]string{"-n", "--dry-run=false", "192.0.2.2"}, "--dry-run is given 2 times, the last turning it off"},
		{[]string{"list", "--process", "nosuchproc1,nosuchproc2"}, "give each name its own --process: --process nosuchproc1 --process nosuchproc2"},
		{[]string{"conntrack", "-n", "192.0.2.2", "--dry-run=false"}, "--dry-run is given 2 times, the last turning it off"},
		{[]string{"--include-self", "--include-self=false", "192.0.2.2"}, "--include-self is given 2 times"},
		{[]string{"--workers", "0", "192.0.2.2"}, "--workers 0"},
		{[]string{"--rate", "0", "192.0.2.2"}, "--rate 0: a rate of 0 destroys nothing; give 1/s or more"},
		{[]string{"--rate", "abc", "192.0.2.2"}, `--rate "abc" is not a rate`},
		{[]string{"-n", "--rate", "5", "192.0.2.2"}, "--rate 5: give the rate with its unit: 5/s, 5/m or 5/h"},
		{[]string{"--rate", "5/s", "--spread", "10m", "192.0.2.2"}, "--rate 5/s and --spread 10m0s: give one of them"},
		{[]string{"--rate", "", "192.0.2.2"}, "--rate: the value is empty"},
		{[]string{"apply", "--rate", "5/s", "--rate", "6/s", "plan"}, "--rate is given 2 times"},
		{[]string{"--spread", "0s", "192.0.2.2"}, "--spread 0s: give a duration above zero"},
		{[]string{"apply", "--spread", "10", "plan"}, "--spread 10: give a unit"},
		{[]string{"--order", "idle", "192.0.2.2"}, "--order idle says which sockets go first in a paced run; add --rate or --spread"},
		{[]string{"--order", "oldest", "--rate", "1/s", "192.0.2.2"}, `--order "oldest" is no order; give plan, idle or random`},
		{[]string{"--peer-not-in", "0.0.0.0/0", "-y"}, "--peer-not-in: the live set takes in every IPv4 address"},
		{[]string{"list", "--peer-not-in", "::/0"}, "--peer-not-in: the live set takes in every IPv6 address"},
		{[]string{"list", "--peer-not-in", "/nonexistent/live"}, "--peer-not-in: /nonexistent/live is neither an address, a CIDR prefix nor a file"},
		{[]string{"list", "--peer-not-in", ""}, "--peer-not-in: a value is empty"},
		{[]string{"list", "--local-gone", "--local-gone=false"}, "--local-gone is given 2 times, the last turning it off"},
		{[]string{"list", "--rate", "1/s"}, "list takes no --rate, an option of tcpreap and tcpreap apply"},
		{[]string{"--no-such-flag"}, "tcpreap has no option --no-such-flag; see tcpreap --help"},
		{[]string{"list", "--state", "nope"}, `unknown state "nope"`},
		{[]string{"apply", "--state", "listen", "plan.json"}, "apply takes no --state (apply destroys what the plan file holds"},
		{[]string{"plan", "--yes"}, "plan takes no --yes"},
		{[]string{"list", "--max", "-1"}, "--max -1: give the largest number of sockets to destroy"},
		{[]string{"conntrack", "--max", "-1", "192.0.2.2"}, "--max -1: give the largest number of conntrack entries to delete"},
		{[]string{"-n", "--max", "abc", "192.0.2.2"}, `--max: "abc" is not a number`},
		{[]string{"--max", "0x10", "192.0.2.2"}, `--max: "0x10" is not a number`},
		{[]string{"plan", "--max", "1e3"}, `--max: "1e3" is not a number`},
		{[]string{"--max", "99999999999", "192.0.2.2"}, "that is more than a host can have"},
		{[]string{"--workers", "-1", "192.0.2.2"}, "--workers -1: give 1 to 64, the number of netlink sockets"},
		{[]string{"apply", "--workers", "1000", "plan"}, "--workers 1000: give 1 to 64"},
		{[]string{"--json", "apply", "plan.json"}, "put the options after the command: tcpreap apply --json"},
		{[]string{"-q", "list"}, "put the options after the command: tcpreap list --quiet"},
		{[]string{"apply"}, "apply takes one plan file"},
		{[]string{"--max", "-1", "192.0.2.2"}, "--max -1: give the largest number"},
		{[]string{"apply", "--max", "-5", "plan.json"}, "--max -5: give the largest number"},
		{[]string{"apply", "a", "b"}, "apply takes one plan file"},
		{[]string{"--state", "all", "0.0.0.0"}, "0.0.0.0 is no peer"},
		{[]string{"::", "-y"}, ":: is no peer"},
		{[]string{"--port", "0-65535"}, "refusing to destroy every socket"},
		{[]string{"0.0.0.0/0", "::/0"}, "refusing to destroy every socket"},
		{[]string{"-4", "0.0.0.0/0"}, "refusing to destroy every socket"},
		{[]string{"::ffff:0.0.0.0/96", "::/0"}, "refusing to destroy every socket"},
		{[]string{"-4", "::ffff:0.0.0.0/96"}, "refusing to destroy every socket"},
		{[]string{"0.0.0.0/0:1-32767", "0.0.0.0/0:32768-65535", "::/0"}, "refusing to destroy every socket"},
		{[]string{"0.0.0.0/0", "::/0", "192.0.2.2:80"}, "refusing to destroy every socket"},
		{[]string{"--local", "::/0", "--local", "0.0.0.0/0"}, "refusing to destroy every socket"},
		{[]string{"--state", "connected"}, "refusing to destroy every socket"},
		{[]string{":5432"}, `":5432" has no address before the port; for a port on either end, give --port 5432`},
		{[]string{"list", "--uid", "nosuchuser"}, "--uid nosuchuser: no user is named nosuchuser on this host (getent passwd lists them)"},
		{[]string{"list", "--uid", "99999999999"}, "--uid 99999999999: a uid is at most 4294967295"},
		{[]string{"apply", "nosuch.plan"}, "plan file nosuch.plan: there is no such file (tcpreap plan writes one); nothing was destroyed"},
		{[]string{"apply", "/dev/null"}, "plan file /dev/null: it is not a file that tcpreap plan wrote but a character device; nothing was destroyed"},
		{[]string{"list", "fe80::1%eth0", "192.0.2.2"}, "peer fe80::1%eth0 is on interface eth0, which then holds for the whole selection, and peer 192.0.2.2 names none"},
		{[]string{"list", "fe80::1%eth0", "--interface", "lo"}, "peer fe80::1%eth0 is on interface eth0, and --interface is lo; give one of them"},
		{[]string{"list", "fe80::1%nosuchif0"}, `peer fe80::1%nosuchif0: no interface named "nosuchif0"`},
		{[]string{"list", "--local", "fe80::1%eth0"}, "--local fe80::1%eth0: give the address and its interface apart: --local fe80::1 --interface eth0"},
		{[]string{"conntrack", "list", "fe80::1%eth0"}, `"fe80::1%eth0" names an interface (%eth0), which an address here does not take; give fe80::1`},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(tt.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, exitUsage, stderr)
		}
		if !strings.HasPrefix(stderr, "tcpreap: ") || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line with %q", tt.args, stderr, tt.want)
		}
		if stdout != "" {
			t.Errorf("%q: printed %q on stdout", tt.args, stdout)
		}
	}
}

// TestPanicIsExitOne: a bug is a runtime failure with a sentence, never the
// exit code of bad input.
func TestPanicIsExitOne(t *testing.T) {
	needLinux(t)
	var stderr strings.Builder
	code := runArgs(context.Background(), []string{"tcpreap", "list", "192.0.2.2"}, streams{In: strings.NewReader(""), Out: panicWriter{}, ErrOut: &stderr})
	if code != exitFailure || !strings.Contains(stderr.String(), "internal error") {
		t.Errorf("exit %d, stderr %q; want 1 and the internal error said", code, stderr.String())
	}
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("a bug") }

// TestHelp: every command's help has examples and fits an 80-column
// terminal.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"list", "--help"}, {"plan", "--help"}, {"apply", "--help"}, {"summary", "--help"},
		{"doctor", "--help"}, {"conntrack", "--help"}, {"conntrack", "list", "--help"}, {"completion", "--help"}} {
		code, stdout, stderr := runCLI(args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
		if !strings.Contains(stdout, "Examples:") {
			t.Errorf("%q: no examples in the help:\n%s", args, stdout)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if len([]rune(line)) > 80 {
				t.Errorf("%q: a help line of %d columns: %q", args, len([]rune(line)), line)
			}
		}
	}
}

// TestHelpSaysWhatEachDoes: the root's help says plainly that it destroys
// and that list and -n only print; list and plan promise no destroy.
func TestHelpSaysWhatEachDoes(t *testing.T) {
	_, root, _ := runCLI("--help")
	if !strings.Contains(root, "list and -n only print") {
		t.Errorf("tcpreap --help does not say that list and -n only print:\n%s", root)
	}
	for _, cmd := range [][]string{{"list"}, {"plan"}, {"conntrack", "list"}} {
		_, help, _ := runCLI(append(cmd, "--help")...)
		if strings.Contains(help, "also destroy") {
			t.Errorf("tcpreap %s --help names an option that destroys:\n%s", cmd, help)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runCLI("--version")
	if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "tcpreap version ") || !strings.Contains(stdout, "(commit ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
