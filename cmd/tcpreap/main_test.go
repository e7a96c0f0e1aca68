package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestDigitFlags(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"tcpreap", "-4", "list"}, []string{"tcpreap", "--4", "list"}},
		{[]string{"tcpreap", "-6t", "--state", "all"}, []string{"tcpreap", "--6", "--t", "--state", "all"}},
		{[]string{"tcpreap", "--", "-4"}, []string{"tcpreap", "--", "-4"}},
		{[]string{"tcpreap", "-t4"}, []string{"tcpreap", "-t4"}},
		{[]string{"tcpreap", "-42.5"}, []string{"tcpreap", "-42.5"}},
	}
	for _, tt := range tests {
		if got := digitFlags(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("digitFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
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
		{nil, "refusing to destroy every socket"},
		{[]string{"-u", "-6"}, "refusing to destroy every socket"},
		{[]string{"--state", "all"}, "refusing to destroy every socket"},
		{[]string{"-u", "--state", "established,close"}, "refusing to destroy every socket"},
		{[]string{"--interface", "", "--state", "established"}, "--interface: the interface name is empty"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"list", "--state", "nope"}, `unknown state "nope"`},
		{[]string{"apply", "--state", "listen", "plan.json"}, "flag provided but not defined: -state"},
		{[]string{"list", "--max", "3"}, "flag provided but not defined: -max"},
		{[]string{"--json", "apply", "plan.json"}, "put the options after the command: tcpreap apply --json"},
		{[]string{"-q", "list"}, "put the options after the command: tcpreap list --quiet"},
		{[]string{"apply"}, "apply takes one plan file"},
		{[]string{"--max", "-1", "192.0.2.2"}, "--max -1: give the largest number"},
		{[]string{"apply", "--max", "-5", "plan.json"}, "--max -5: give the largest number"},
		{[]string{"apply", "a", "b"}, "apply takes one plan file"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"tcpreap"}, tt.args...), terminal{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr})
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, exitUsage, stderr.String())
		}
		if msg := stderr.String(); !strings.HasPrefix(msg, "tcpreap: ") || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line with %q", tt.args, msg, tt.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: printed %q on stdout", tt.args, stdout.String())
		}
	}
}
