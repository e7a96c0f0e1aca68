package reap

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// TestQueryError: a failed dump is said in words and still carries what a
// caller branches on: the errno, and the cause with its sentence.
func TestQueryError(t *testing.T) {
	req := sockdiag.Request{Protocol: inet.TCP, Family: inet.IPv4}
	plain := queryError(&sockdiag.OpError{Op: "dump", Request: req, Err: unix.EPERM})
	var op *sockdiag.OpError
	if !errors.Is(plain, unix.EPERM) || !errors.As(plain, &op) || plain.Error() != "cannot list sockets: dump tcp/ipv4: operation not permitted" {
		t.Errorf("EPERM: %q, want it said and wrapped", plain)
	}
	caused := queryError(&sockdiag.OpError{Op: "dump", Request: req, Err: fmt.Errorf("%w: %w", sockdiag.ErrNoDiag(inet.TCP), unix.ENOENT)})
	why, ok := sockdiag.Explain(caused)
	if !ok || why != sockdiag.ErrNoDiag(inet.TCP).Explain() || !errors.Is(caused, unix.ENOENT) {
		t.Errorf("no tcp_diag: %q (explained %q, %v), want the cause and the errno wrapped", caused, why, ok)
	}
}
