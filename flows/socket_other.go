//go:build !linux

package flows

import (
	"errors"

	"github.com/mdlayher/netlink"
)

// newSocketWire: ctnetlink is Linux's.
func newSocketWire(*netlink.Conn) (wire, error) {
	return nil, errors.New("conntrack entries are Linux's: this system has none")
}
