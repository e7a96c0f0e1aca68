package sockdiag

import "time"

// SetStuckTimeout sets the watchdog's limit for a test, and returns what
// puts it back.
func SetStuckTimeout(d time.Duration) func() {
	old := stuckTimeout
	stuckTimeout = d
	return func() { stuckTimeout = old }
}

// BatchSize is how many destroys go in one sendmsg.
const BatchSize = batchSize
