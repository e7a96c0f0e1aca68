package host

import (
	"os"
	"testing"
)

func TestWho(t *testing.T) {
	t.Setenv("SUDO_USER", "alice")
	t.Setenv("SSH_CONNECTION", "192.0.2.9 50000 192.0.2.1 22")
	op := Who()
	if op.UID != os.Getuid() || op.SudoUser != "alice" || op.SSH != "192.0.2.9 50000 192.0.2.1 22" {
		t.Errorf("Who() = %+v", op)
	}
	if id, err := Here(); err == nil && op.NetNS != id.NetNS {
		t.Errorf("Who().NetNS = %q, want %q", op.NetNS, id.NetNS)
	}
}
