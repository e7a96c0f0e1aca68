//go:build !linux

package flows

import (
	"errors"

	"github.com/mdlayher/netlink"
)

// newSocketWire: ctnetlink is Linux's.
func newSocketWire(*netlink.Conn) (wire, int, error) {
	return nil, 0, errors.New("conntrack entries are Linux's: this system has none")
}
