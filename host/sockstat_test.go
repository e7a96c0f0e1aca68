package host

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestCountSockets reads the counts as Linux 6.x writes them.
func TestCountSockets(t *testing.T) {
	fakeProc(t, nil)
	// The counts are the calling thread's: /proc/thread-self/net.
	if err := os.Symlink(".", filepath.Join(procRoot, "thread-self")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sockstat":  "sockets: used 290\nTCP: inuse 5 orphan 1 tw 7 alloc 9 mem 1\nUDP: inuse 2 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
		"sockstat6": "TCP6: inuse 3\nUDP6: inuse 4\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(procRoot, "net", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(procRoot, "sys", "net", "ipv4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(procRoot, "sys", "net", "ipv4", "ip_local_port_range"), []byte("32768\t60999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := LocalPortRange(); err != nil || r != [2]uint16{32768, 60999} {
		t.Errorf("LocalPortRange() = %v, %v", r, err)
	}
	got, err := CountSockets()
	if want := (SocketCount{TCP: 8, TCP6: 3, TimeWait: 7, UDP: 6}); err != nil || got != want {
		t.Errorf("CountSockets() = %+v, %v; want %+v", got, err, want)
	}
	if err := os.Remove(filepath.Join(procRoot, "net", "sockstat6")); err != nil {
		t.Fatal(err)
	}
	if _, err := CountSockets(); err == nil {
		t.Error("CountSockets without sockstat6: no error")
	}
}

// TestCountSocketsCountsThisHost: a listener of the test's own is counted.
func TestCountSocketsCountsThisHost(t *testing.T) {
	if !hasProc() {
		t.Skip("no /proc")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, err := CountSockets(); err != nil || got.TCP < 1 {
		t.Errorf("with a listener of its own: %+v, %v", got, err)
	}
}

func TestTCPExt(t *testing.T) {
	text := "TcpExt: SyncookiesSent TCPChallengeACK TCPACKSkippedChallenge\nTcpExt: 0 7 3\nIpExt: InNoRoutes\nIpExt: 0\n"
	got := tcpExt(text, []string{"TCPChallengeACK", "TCPACKSkippedChallenge", "NoSuchCounter"})
	if len(got) != 2 || got["TCPChallengeACK"] != 7 || got["TCPACKSkippedChallenge"] != 3 {
		t.Errorf("got %v", got)
	}
	if got := tcpExt("TcpExt: A B\n", []string{"A"}); len(got) != 0 {
		t.Errorf("names without values: %v", got)
	}
}

func TestTCPExtCountersOfThisHost(t *testing.T) {
	got, err := TCPExtCounters("TCPChallengeACK")
	if err != nil {
		t.Skip(err) // no /proc/net/netstat here
	}
	if _, ok := got["TCPChallengeACK"]; !ok {
		t.Errorf("no TCPChallengeACK in %v", got)
	}
}
