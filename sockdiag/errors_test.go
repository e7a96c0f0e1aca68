package sockdiag

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// TestOpError: the message says the operation, the cause and the kernel's
// answer, and the errno stays reachable with errors.Is.
func TestOpError(t *testing.T) {
	err := &OpError{Op: "dump", Request: Request{Family: inet.IPv6, Protocol: inet.UDP},
		Err: fmt.Errorf("%w: %w", ErrNoDiag(inet.UDP), unix.ENOENT)}
	if got, want := err.Error(), "dump udp/ipv6: "+ErrNoDiag(inet.UDP).Error()+": "+unix.ENOENT.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, unix.ENOENT) || !errors.Is(err, ErrNoDiag(inet.UDP)) {
		t.Errorf("%v does not unwrap to ENOENT and its cause", err)
	}
}
