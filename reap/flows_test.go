package reap

import (
	"errors"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/flows"
	"golang.org/x/sys/unix"
)

// TestFlowError: a refused dump says what it needs, and keeps its errno.
func TestFlowError(t *testing.T) {
	err := flowError(&flows.OpError{Op: "dump", Err: unix.EPERM})
	if !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") || !errors.Is(err, unix.EPERM) {
		t.Errorf("EPERM: %v", err)
	}
	if err := flowError(errors.New("odd")); !strings.Contains(err.Error(), "cannot list conntrack entries") {
		t.Errorf("other: %v", err)
	}
}
