package sockdiag

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
)

// TestCgroupCondOnKernel runs the cgroup test of compile's programs on the
// real kernel, in the tests' own network namespace: a dump whose program
// names the group of the test's sockets (as the kernel gives it in
// INET_DIAG_CGROUP_ID) returns them, one that names no group returns none
// of them. The dumps are raw (Dump, no Match after them): what they return
// is what the kernel's filter let through.
func TestCgroupCondOnKernel(t *testing.T) {
	if !ownnetns.Inside() {
		t.Skip("needs root, for a network namespace of its own")
	}
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.cgroupCond() {
		t.Skipf("kernel %v has no INET_DIAG_BC_CGROUP_COND (5.10)", c.release)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ours := []netip.AddrPort{
		ln.Addr().(*net.TCPAddr).AddrPort(),
		client.LocalAddr().(*net.TCPAddr).AddrPort(),
	}
	req := Request{Family: inet.IPv4, Protocol: inet.TCP, States: 1<<Established | 1<<Listen}

	// dumped returns how many of the test's three sockets a dump returns,
	// and the cgroup id the kernel gives them.
	dumped := func(prog []byte) (n int, group uint64) {
		t.Helper()
		r := req
		r.Bytecode = prog
		err := c.dump(t.Context(), r, func(s *Socket, attrs []byte) bool {
			if slices.Contains(ours, s.ID.Local) || slices.Contains(ours, s.ID.Remote) && s.State == Established {
				n++
				if id, ok := cgroupOf(attrs); ok {
					group = id
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("dump with program % x: %v", prog, err)
		}
		return n, group
	}
	n, group := dumped(nil)
	if n != 3 || group == 0 {
		t.Fatalf("without a program the dump returns %d of the test's 3 sockets, cgroup id %d", n, group)
	}
	prog, _ := compile(&Filter{Cgroups: []uint64{group}}, inet.IPv4, true)
	if n, _ := dumped(prog); n != 3 {
		t.Errorf("with the program of their group %d the kernel returns %d of the test's 3 sockets", group, n)
	}
	prog, _ = compile(&Filter{Cgroups: []uint64{group + 1<<40, 0}}, inet.IPv4, true)
	if n, _ := dumped(prog); n != 0 {
		t.Errorf("with the program of other groups the kernel returns %d of the test's sockets, want 0", n)
	}
	if c.noCgroupCond {
		t.Error("the kernel refused a program it has the operation for")
	}
}
