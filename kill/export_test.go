package kill

import "time"

// SetVerifyTimeout sets the bound of a second look for a test, and returns
// what puts it back.
func SetVerifyTimeout(d time.Duration) func() {
	old := verifyTimeout
	verifyTimeout = d
	return func() { verifyTimeout = old }
}
