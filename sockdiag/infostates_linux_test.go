package sockdiag

import (
	"net"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
)

// TestInfoStatesOnTheKernel: a query of every state that asks tcp_info of
// the CLOSE_WAIT sockets alone, split or whole, finds every socket once
// and has the tcp_info of the CLOSE_WAIT one, and of no other when split.
// Only the test's own sockets count (those of its listener's port): the
// package's other tests share the namespace, and leave TIME-WAIT sockets.
func TestInfoStatesOnTheKernel(t *testing.T) {
	if !ownnetns.Inside() {
		t.Skip("needs root, for a network namespace of its own")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client.Close() // the server's end is in CLOSE_WAIT
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	ours := func(s *Socket) bool { return s.ID.Local.Port() == port || s.ID.Remote.Port() == port }
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, whole := range [][]inet.Family{nil, {inet.IPv4, inet.IPv6}} {
		var states map[State]int
		var infos map[State]int
		for range 50 { // until the FIN and its ACK have come
			states, infos = map[State]int{}, map[State]int{}
			f := &Filter{States: AllStates, WithInfo: true, InfoStates: 1 << CloseWait, InfoWhole: whole}
			for s, err := range c.Query(t.Context(), f, WithTCPInfo(func(s *Socket, _ TCPInfo) {
				if ours(s) {
					infos[s.State]++
				}
			})) {
				if err != nil {
					t.Fatal(err)
				}
				if ours(&s) {
					states[s.State]++
				}
			}
			if states[CloseWait] == 1 && states[FinWait2] == 1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if states[CloseWait] != 1 || states[Listen] != 1 || states[FinWait2] != 1 {
			t.Errorf("whole %v: states %v; want one LISTEN, one CLOSE_WAIT, one FIN_WAIT2", whole, states)
		}
		if infos[CloseWait] != 1 {
			t.Errorf("whole %v: tcp_info of %v; want the CLOSE_WAIT socket's", whole, infos)
		}
		if split := whole == nil; split && len(infos) != 1 {
			t.Errorf("split: tcp_info of %v; want of the CLOSE_WAIT socket alone", infos)
		}
	}
}
