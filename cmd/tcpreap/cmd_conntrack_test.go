package main

import (
	"strings"
	"testing"
)

// TestConntrackBadInput: words refused before the kernel is asked anything: exit 2 and
// a sentence naming the problem.
func TestConntrackBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"conntrack", "-y"}, "refusing to delete every conntrack entry"},
		{[]string{"conntrack", "-u", "-4", "-y"}, "give --all"},
		{[]string{"conntrack", "-y", "--state", "all"}, "give --all"},
		{[]string{"conntrack", "-y", "--port", "0-65535"}, "give --all"},
		{[]string{"conntrack", "-y", "0.0.0.0/0", "::/0"}, "give --all"},
		{[]string{"conntrack", "-y", "::ffff:0.0.0.0/96", "::/0"}, "give --all"},
		{[]string{"conntrack", "-y", "-4", "::ffff:0.0.0.0/96"}, "give --all"},
		{[]string{"conntrack", "-y", "0.0.0.0/0:1-32767", "0.0.0.0/0:32768-65535", "::/0"}, "give --all"},
		{[]string{"conntrack", "-y", "0.0.0.0/0", "::/0", "192.0.2.2:80"}, "give --all"},
		{[]string{"conntrack", "-y", "--reply-src", "::ffff:0.0.0.0/96", "--reply-src", "::/0"}, "give --all"},
		{[]string{"conntrack", "-y", "-4", "--reply-src", "0.0.0.0/0"}, "give --all"},
		{[]string{"conntrack", "-y", "--mark", "0/0"}, "give --all"},
		{[]string{"conntrack", "--state", "listen", "192.0.2.2"}, "no listening entries"},
		{[]string{"conntrack", "--state", "fin_wait1", "192.0.2.2"}, "names it fin_wait"},
		{[]string{"conntrack", "list", "--status", "new"}, "give unreplied"},
		{[]string{"conntrack", "list", "--mark", "0x10/0x01"}, `--mark "0x10/0x01": the value has bits outside the mask`},
		{[]string{"conntrack", "list", "--zone", "zone1"}, `--zone "zone1": give a conntrack zone, a number from 0 to 65535`},
		{[]string{"conntrack", "list", "--reply-src", "10.0.0.0/33"}, "not a valid CIDR"},
		{[]string{"conntrack", "list", "--port", "nosuchservice"}, `unknown service "nosuchservice"`},
		{[]string{"conntrack", "list", "--max", "-1"}, "--max -1"},
		{[]string{"conntrack", "list", "192.0.2.2,192.0.2.3"}, "with spaces"},
		{[]string{"conntrack", "--json", "list"}, "put the options after the command"},
		{[]string{"conntrack", "list", "--interface", "eth0"}, "conntrack list takes no --interface (a conntrack entry has no interface)"},
		{[]string{"-n", "conntrak"}, "did you mean tcpreap conntrack?"},
	} {
		code, stdout, stderr := runCLI(c.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
}
