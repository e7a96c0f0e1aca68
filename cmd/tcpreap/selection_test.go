package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestNewSelection(t *testing.T) {
	o := &selectFlags{states: []string{"close-wait", "listen"}, localPorts: []string{"5432"}, udp: true, ipv6: true,
		locals: []string{"2001:db8::/64"}, includeSelf: true}
	sel, err := newSelection(t.Context(), o, []string{"[2001:db8::2]:40000-40010"}, false)
	if err != nil {
		t.Fatal(err)
	}
	f := sel.Filter
	if f.States != 1<<sockdiag.CloseWait|1<<sockdiag.Listen || !sel.ListenNamed || !sel.IncludeSelf {
		t.Errorf("states %#x, listen named %v, include self %v", f.States, sel.ListenNamed, sel.IncludeSelf)
	}
	if len(f.Protocols) != 1 || f.Protocols[0] != inet.UDP || len(f.Families) != 1 || f.Families[0] != inet.IPv6 {
		t.Errorf("protocols %v, families %v", f.Protocols, f.Families)
	}
	if len(f.LocalPorts) != 1 || f.LocalPorts[0] != (inet.PortRange{Lo: 5432, Hi: 5432}) || len(f.Local) != 1 {
		t.Errorf("local ports %v, local %v", f.LocalPorts, f.Local)
	}
	if len(f.Peers) != 1 || f.Peers[0].Prefix.String() != "2001:db8::2/128" || f.Peers[0].Ports[0] != (inet.PortRange{Lo: 40000, Hi: 40010}) {
		t.Errorf("peers %+v", f.Peers)
	}
}

// TestListsTakeSpacesAfterCommas: a list written "A, B" (as --local and
// --reply-src took it when urfave/cli split it and trimmed each item) is
// two items, not a second one with a space that does not parse; an item
// of spaces only is still empty and refused.
func TestListsTakeSpacesAfterCommas(t *testing.T) {
	sel, err := newSelection(t.Context(), &selectFlags{locals: []string{"192.0.2.1, 192.0.2.2 ,2001:db8::/64"}, uids: []string{"0, 0"}}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Filter.Local) != 3 || len(sel.Filter.UIDs) != 2 {
		t.Errorf("local %v, uids %v: want 3 addresses and 2 users", sel.Filter.Local, sel.Filter.UIDs)
	}
	f, _, err := flowSelection(t.Context(), &flowSelectFlags{replySrcs: []string{"192.0.2.1, 198.51.100.0/24"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ReplySrc) != 2 {
		t.Errorf("reply-src %v, want 2 prefixes", f.ReplySrc)
	}
	if _, err := newSelection(t.Context(), &selectFlags{locals: []string{"192.0.2.1, "}}, nil, true); err == nil {
		t.Error("--local 192.0.2.1, : taken, want an empty item refused")
	}
}

// TestPeerHints: a PEER that does not parse gets what was most likely meant.
func TestPeerHints(t *testing.T) {
	for args, want := range map[string]string{
		":80":                 "give --port 80",
		"192.0.2.2,192.0.2.3": "tcpreap 192.0.2.2 192.0.2.3",
		"2001:db8::2:53830":   "[2001:db8::2]:53830",
	} {
		code, _, stderr := runCLI(args)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", args, code, stderr, want)
		}
	}
	code, _, stderr := runCLI("list", "--sport", "bootpc", "192.0.2.2")
	if code != exitUsage || !strings.Contains(stderr, "it is a UDP service: add -u") {
		t.Errorf("a UDP service without -u: exit %d, stderr %q", code, stderr)
	}
}

// TestQueryErrorNamesTheOption: reap says which input it could not use;
// the command line names the option that gave it, and a namespace that is
// not there is bad input.
func TestQueryErrorNamesTheOption(t *testing.T) {
	for in := reap.InputNetNS; in <= reap.InputInterface; in++ {
		err := queryError(&reap.InputError{Of: in, Err: errors.New("no such thing")})
		var ue usageError
		if flag := inputFlags[in]; flag == "" || err.Error() != flag+": no such thing" || !errors.As(err, &ue) {
			t.Errorf("input %d: %q, want it named by its option, as bad input", in, err)
		}
	}
	needLinux(t)
	code, _, stderr := runCLI("list", "--netns", "tcpreap-no-such-namespace")
	if code != exitUsage || !strings.HasPrefix(stderr, "tcpreap: --netns: ") {
		t.Errorf("list --netns of no namespace: exit %d, %q", code, stderr)
	}
}

// TestPortLikeNote: an IPv6 PEER that ends like a port and matched nothing
// says how the port is written; with a port written so, no note.
func TestPortLikeNote(t *testing.T) {
	needLinux(t)
	code, _, stderr := runCLI("list", "2001:db8::2:5432")
	if want := "tcpreap: note: 2001:db8::2:5432 was read as an address; for a port write [2001:db8::2]:5432\n"; code != exitOK || stderr != want {
		t.Errorf("exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
	if code, _, stderr := runCLI("list", "[2001:db8::2]:5432"); code != exitOK || stderr != "" {
		t.Errorf("[2001:db8::2]:5432: exit %d, stderr %q", code, stderr)
	}
}
