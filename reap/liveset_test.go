package reap

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestParseLiveSet(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	live := file("live", "# the live set\n192.0.2.2   # primary\n\n  2001:db8::/64\n::ffff:198.51.100.1\n")
	got, err := ParseLiveSet([]string{"192.0.2.10", live})
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("192.0.2.2/32"), netip.MustParsePrefix("2001:db8::/64"), netip.MustParsePrefix("198.51.100.1/32")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseLiveSet = %v, %v; want %v", got, err, want)
	}
	for _, c := range []struct {
		words []string
		says  string
	}{
		{[]string{file("empty", "# nothing here\n\n")}, "holds no address: an empty live set would select every connection"},
		{[]string{file("bad", "192.0.2.1\nbogus\n")}, "bad:2: \"bogus\" is not a valid IP address"},
		{[]string{"0.0.0.0/0"}, "every IPv4 address"},
		{[]string{"::/0", "192.0.2.1"}, "every IPv6 address"},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, "every IPv4 address"},
		{[]string{"::ffff:0.0.0.0/96"}, "every IPv4 address"},
		{[]string{file("all", "0.0.0.0/0\n")}, "every IPv4 address"},
		{[]string{"fe80::1%eth0"}, "names an interface"},
		{[]string{filepath.Join(dir, "nosuch")}, "is neither an address, a CIDR prefix nor a file"},
		{[]string{"192.0.2.1/33"}, "is neither an address"},
		{[]string{file("long", strings.Repeat("1", 70_000)+"\n")}, "long:1: the line is longer than 64 KiB"},
		{[]string{"/dev/zero"}, "/dev/zero:1: the line is longer than 64 KiB"},
	} {
		if _, err := ParseLiveSet(c.words); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseLiveSet(%q): %v; want an error that says %q", c.words, err, c.says)
		}
	}
}

// TestParseLiveSetFIFO: a FIFO nobody writes to reads as an empty file, at
// once, instead of holding tcpreap (and watch's reload) in open(2).
func TestParseLiveSetFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ParseLiveSet([]string{fifo}); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "holds no address") {
			t.Errorf("a FIFO nobody writes to: %v; want that it holds no address", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ParseLiveSet of a FIFO nobody writes to still waits after 5s")
	}
}

// TestOutsideLive: a peer in none of the prefixes is outside, a v4-mapped
// one as its IPv4 address; a socket with no peer never is.
func TestOutsideLive(t *testing.T) {
	sel := &Selection{PeerNotIn: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	for peer, want := range map[string]bool{"192.0.2.7:5432": false, "[::ffff:192.0.2.7]:5432": false, "198.51.100.1:80": true, "[2001:db8::2]:80": true, "0.0.0.0:0": false, "[::]:0": false} {
		s := sockdiag.Socket{ID: sockdiag.SockID{Remote: netip.MustParseAddrPort(peer)}}
		if got := sel.outsideLive(&s); got != want {
			t.Errorf("peer %s: outside %v, want %v", peer, got, want)
		}
	}
	if !sel.HasSelector() || !(&Selection{LocalGone: true}).HasSelector() {
		t.Error("--peer-not-in and --local-gone are selectors")
	}
}
