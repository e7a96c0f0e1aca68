package inet

import (
	"syscall"
	"testing"
)

// TestKernelNumbers: the protocols and families are Linux's own numbers,
// which the wire code sends as they are.
func TestKernelNumbers(t *testing.T) {
	for name, c := range map[string]struct{ ours, linux int }{
		"IPPROTO_TCP": {int(TCP), syscall.IPPROTO_TCP},
		"IPPROTO_UDP": {int(UDP), syscall.IPPROTO_UDP},
		"AF_INET":     {int(IPv4), syscall.AF_INET},
		"AF_INET6":    {int(IPv6), syscall.AF_INET6},
	} {
		if c.ours != c.linux {
			t.Errorf("%s is %d here, %d in Linux", name, c.ours, c.linux)
		}
	}
}
