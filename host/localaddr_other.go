//go:build !linux

package host

import "errors"

func goneAddrs([]LocalAddr) (map[LocalAddr]bool, error) {
	return nil, errors.New("the addresses of a network namespace are read on Linux only")
}
