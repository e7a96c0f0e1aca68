package host

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// inodeOf is the inode of a socket's file.
func inodeOf(t *testing.T, c syscall.Conn) uint32 {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	raw.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

// TestOwnerCache: the cache finds this process's sockets, keeps what is
// alive, and finds a socket opened on a descriptor reused since.
func TestOwnerCache(t *testing.T) {
	procs := []Process{{PID: os.Getpid(), Command: "test"}}
	l1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	first := inodeOf(t, l1)
	var c OwnerCache
	owners, err := c.Owners(procs, map[uint32]bool{first: true})
	if err != nil || len(owners[first]) != 1 || owners[first][0].PID != os.Getpid() {
		t.Fatalf("owners %v, %v; want this process to hold %d", owners, err, first)
	}
	// The descriptor is closed and, very likely, reused by the next socket.
	l1.Close()
	l2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	second := inodeOf(t, l2)
	owners, err = c.Owners(procs, map[uint32]bool{second: true})
	if err != nil || len(owners[second]) != 1 || len(owners[first]) != 0 {
		t.Errorf("after a descriptor was reused: owners %v, %v; want %d held, %d not", owners, err, second, first)
	}
	// A socket no process holds is looked for once, not at every call.
	const nobody = 1
	if owners, _ := c.Owners(procs, map[uint32]bool{second: true, nobody: true}); len(owners[nobody]) != 0 || !c.unknown[nobody] {
		t.Errorf("an unheld socket: %v, unknown %v", owners, c.unknown)
	}
}
