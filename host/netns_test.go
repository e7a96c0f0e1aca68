package host

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestOpenNetNSRefuses: words that name no network namespace are refused with a sentence
// that says what would be right, before anything is opened.
func TestOpenNetNSRefuses(t *testing.T) {
	netNSDir = t.TempDir()
	t.Cleanup(func() { netNSDir = "/run/netns" })
	if err := os.WriteFile(netNSDir+"/plain", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ spec, want string }{
		{"", "is empty"},
		{"pid:", "is not pid:PID"},
		{"pid:x", "is not pid:PID"},
		{"pid:0", "is not pid:PID"},
		{"pid:-1", "is not pid:PID"},
		{"pid:012", "is not pid:PID"},
		{"pid:+12", "is not pid:PID"},
		{"pid:99999999", "no process 99999999"},
		{".", "no network namespace name"},
		{"..", "no network namespace name"},
		{"a\x1bb", "no network namespace name"},
		{"nope", `no network namespace named "nope"`},
		{"plain", "is not a network namespace"},
		{"/etc/hostname", "/etc/hostname is not a network namespace"},
		{"/nonexistent/ns", "/nonexistent/ns does not exist"},
	} {
		ns, err := OpenNetNS(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenNetNS(%q) = %v, %v; want an error with %q", tt.spec, ns, err, tt.want)
			ns.Close()
		}
	}
}

// TestOpenNetNSOwn: the namespace of this process, by path and by pid, is the one Here
// names, and Do runs in it.
func TestOpenNetNSOwn(t *testing.T) {
	here, err := Here()
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	for _, spec := range []string{"/proc/self/ns/net", "pid:" + strconv.Itoa(os.Getpid())} {
		ns, err := OpenNetNS(spec)
		if err != nil {
			t.Fatalf("OpenNetNS(%q): %v", spec, err)
		}
		if ns.ID != here.NetNS || ns.Reach != spec || ns.Fd() <= 0 {
			t.Errorf("OpenNetNS(%q) = %+v, want ID %s", spec, ns, here.NetNS)
		}
		var inside string
		if err := ns.Do(func() (err error) { inside, err = os.Readlink("/proc/thread-self/ns/net"); return err }); err != nil {
			if os.Geteuid() == 0 {
				t.Errorf("Do in %s: %v", spec, err)
			}
		} else if NetNS(inside) != here.NetNS {
			t.Errorf("Do ran in %s, want %s", inside, here.NetNS)
		}
		ns.Close()
	}
	var none *Namespace
	if none.Fd() != 0 || none.String() != "" || none.Close() != nil || none.Do(func() error { return nil }) != nil {
		t.Error("the nil Namespace is not tcpreap's own")
	}
}
