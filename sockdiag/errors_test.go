package sockdiag

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpError: the message says the operation, the cause and the kernel's
// answer, and the errno stays reachable with errors.Is.
func TestOpError(t *testing.T) {
	err := &OpError{Op: "dump", Request: Request{Family: IPv6, Protocol: UDP},
		Err: fmt.Errorf("%w: %w", ErrNoDiag(UDP), unix.ENOENT)}
	if got, want := err.Error(), "dump udp/ipv6: "+ErrNoDiag(UDP).Error()+": "+unix.ENOENT.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, unix.ENOENT) || !errors.Is(err, ErrNoDiag(UDP)) {
		t.Errorf("%v does not unwrap to ENOENT and its cause", err)
	}
}
