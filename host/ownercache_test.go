package host

import (
	"net"
	"os"
	"reflect"
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

// TestOwnerCacheKeepsItsMap: when no descriptor changed, Owners answers
// the map it answered last, not one built again; a new socket makes a new
// one, with it.
func TestOwnerCacheKeepsItsMap(t *testing.T) {
	procs := []Process{{PID: os.Getpid(), Command: "test"}}
	l1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	first := inodeOf(t, l1)
	var c OwnerCache
	alive := c.Alive()
	alive[first] = true
	before, err := c.Owners(procs, alive)
	if err != nil || len(before[first]) != 1 {
		t.Fatalf("owners %v, %v; want this process to hold %d", before, err, first)
	}
	alive = c.Alive()
	if len(alive) != 0 {
		t.Fatalf("Alive is not empty: %v", alive)
	}
	alive[first] = true
	again, err := c.Owners(procs, alive)
	if err != nil || reflect.ValueOf(again).UnsafePointer() != reflect.ValueOf(before).UnsafePointer() {
		t.Errorf("nothing changed, and Owners built its map again (%v)", err)
	}
	l2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	second := inodeOf(t, l2)
	alive = c.Alive()
	alive[first], alive[second] = true, true
	after, err := c.Owners(procs, alive)
	if err != nil || len(after[first]) != 1 || len(after[second]) != 1 {
		t.Errorf("after a new socket: owners %v, %v; want %d and %d held", after, err, first, second)
	}
	// What it changed is what a fresh look finds, and a socket closed
	// leaves it.
	var fresh OwnerCache
	if want, _ := fresh.Owners(procs, alive); !reflect.DeepEqual(after, want) {
		t.Errorf("changed in place:\n%v\na fresh look:\n%v", after, want)
	}
	l1.Close()
	alive = c.Alive()
	alive[second] = true
	if closed, _ := c.Owners(procs, alive); len(closed[first]) != 0 || len(closed[second]) != 1 {
		t.Errorf("after %d closed: %v", first, closed)
	}
}

func TestSameSockets(t *testing.T) {
	for _, tt := range []struct {
		a, b []uint32
		want bool
	}{
		{nil, nil, true},
		{[]uint32{0, 5}, []uint32{0, 5, 0, 0}, true},
		{[]uint32{0, 5, 0, 7}, []uint32{0, 5}, false},
		{[]uint32{0, 5}, []uint32{0, 6}, false},
		{[]uint32{}, []uint32{0}, true},
	} {
		if got := sameSockets(tt.a, tt.b); got != tt.want {
			t.Errorf("sameSockets(%v, %v) = %v", tt.a, tt.b, got)
		}
	}
}
