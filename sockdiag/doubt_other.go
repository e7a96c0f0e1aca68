//go:build !linux

package sockdiag

import (
	"context"
	"errors"
)

// probeOrphan cannot make an orphan off Linux, where no Conn works anyway.
func (c *Conn) probeOrphan(context.Context) error {
	return errors.New("no SO_COOKIE on this OS")
}
