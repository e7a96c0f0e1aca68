package host

import "testing"

func TestParseSSHConnection(t *testing.T) {
	c, err := ParseSSHConnection("192.0.2.2 40000 192.0.2.1 22")
	if err != nil || c.Client.String() != "192.0.2.2:40000" || c.Server.String() != "192.0.2.1:22" {
		t.Errorf("IPv4: %+v, %v", c, err)
	}
	c, err = ParseSSHConnection("::ffff:192.0.2.2 40000 ::ffff:192.0.2.1 22")
	if err != nil || c.Client.String() != "192.0.2.2:40000" {
		t.Errorf("v4-mapped: %+v, %v; want it unmapped", c, err)
	}
	if c, err := ParseSSHConnection("2001:db8::9 50000 2001:db8::1 22"); err != nil || c.Server.String() != "[2001:db8::1]:22" {
		t.Errorf("IPv6: %+v, %v", c, err)
	}
	for _, bad := range []string{"", "192.0.2.2 40000 192.0.2.1", "a b c d", "192.0.2.2 99999 192.0.2.1 22"} {
		if _, err := ParseSSHConnection(bad); err == nil {
			t.Errorf("ParseSSHConnection(%q): no error", bad)
		}
	}
}

func FuzzParseSSHConnection(f *testing.F) {
	for _, s := range []string{"192.0.2.2 40000 192.0.2.1 22", "2001:db8::9 50000 2001:db8::1 22", "fe80::2%eth0 46068 fe80::1%eth0 22", "a b c d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseSSHConnection(v)
		if err == nil && (!c.Client.IsValid() || !c.Server.IsValid()) {
			t.Fatalf("%q: invalid connection %+v", v, c)
		}
	})
}
