//go:build !linux

package sockpacket

import (
	"errors"
)

// errNotLinux: packet sockets and raw sockets that take their IP header
// are Linux's.
var errNotLinux = errors.New("the packet engine runs on Linux only")

func openCapture([]Tuple) (capture, error) { return nil, errNotLinux }
func openRaw() (sender, error)             { return nil, errNotLinux }
func openLink() (sender, error)            { return nil, errNotLinux }
