// tcpreap watch runs as a daemon, in no SSH session of its own: a reap policy whose
// selection takes in an operator's SSH session keeps it all the same, and cuts the rest.

package integration

import (
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationWatchSSHSessionsKept: a session from B to A's sshd, and a plain
// connection from B; watch, started outside any session, reaps every established
// connection of B. The plain one is cut, the session is kept.
func TestIntegrationWatchSSHSessionsKept(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	session := e.startSession(s, testnet.LocalV4, waitingScript)
	sshConn, _ := e.connection(session, "an SSH session")
	cut := tcp("a plain connection of B", e.inbound(e.listenV4(), peer))
	w := e.startWatch("policies:\n  - name: peer\n    action: reap\n    max: 10\n    select: {state: established, peer: "+testnet.PeerV4.String()+"}\n", time.Second)
	if _, ok := w.logged(`^reaped$`, 10*time.Second); !ok {
		t.Fatalf("no reap: %v", w.logLines())
	}
	ss := e.sockets()
	expectGone(t, ss, cut)
	if _, ok := ss.Find(sshConn.local, sshConn.remote); !ok {
		t.Errorf("watch cut the SSH session %v-%v; its log: %v", sshConn.local, sshConn.remote, w.logLines())
	}
}
