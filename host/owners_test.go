package host

import (
	"reflect"
	"testing"
)

func TestSocketOwners(t *testing.T) {
	fakeProc(t, map[int]proc{
		10: {stat: "10 (sshd) S 1 1 1", fds: map[int]string{3: "socket:[100]", 4: "socket:[101]", 5: "/dev/null", 6: "pipe:[7]"}},
		20: {stat: "20 (sshd) S 10 1 1", fds: map[int]string{3: "socket:[101]", 9: "socket:[4294967398]"}},
	})
	got, err := SocketOwners([]Process{{PID: 10, Command: "sshd"}, {PID: 20, Command: "sshd"}, {PID: 99, Command: "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]Owner{
		100: {{PID: 10, Command: "sshd", FD: 3}},
		101: {{PID: 10, Command: "sshd", FD: 4}, {PID: 20, Command: "sshd", FD: 3}},
		102: {{PID: 20, Command: "sshd", FD: 9}}, // inodes are compared in 32 bits, as sock_diag has them
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SocketOwners = %v, want %v", got, want)
	}
}

func TestReadProcess(t *testing.T) {
	fakeProc(t, map[int]proc{
		10: {stat: "10 (sshd: root@pts/0) S 7 10 10"},
		11: {stat: "11 (a) b) S 7"},
		12: {stat: "12 sshd S 7"},
		13: {stat: "13 (x) S notanumber"},
	})
	if p, err := ReadProcess(10); err != nil || p != (Process{PID: 10, PPID: 7, Command: "sshd: root@pts/0"}) {
		t.Errorf("ReadProcess(10) = %+v, %v", p, err)
	}
	if p, err := ReadProcess(11); err != nil || p.Command != "a) b" || p.PPID != 7 {
		t.Errorf("ReadProcess(11) = %+v, %v", p, err)
	}
	for _, pid := range []int{12, 13, 14} {
		if _, err := ReadProcess(pid); err == nil {
			t.Errorf("ReadProcess(%d): no error", pid)
		}
	}
}
