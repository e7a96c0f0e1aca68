package sockdiag

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestABI: the numbers defined here are Linux's, as x/sys/unix has them.
func TestABI(t *testing.T) {
	for name, pair := range map[string][2]int{
		"AF_UNSPEC":           {afUnspec, unix.AF_UNSPEC},
		"AF_INET":             {afInet, unix.AF_INET},
		"AF_INET6":            {afInet6, unix.AF_INET6},
		"NETLINK_SOCK_DIAG":   {netlinkSockDiag, unix.NETLINK_SOCK_DIAG},
		"SOCK_DIAG_BY_FAMILY": {sockDiagByFamily, unix.SOCK_DIAG_BY_FAMILY},
		"SOCK_DESTROY":        {sockDestroy, unix.SOCK_DESTROY},
		"NLA_HDRLEN":          {nlaHdrLen, unix.NLA_HDRLEN},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s is %d here, %d in x/sys/unix", name, pair[0], pair[1])
		}
	}
}
