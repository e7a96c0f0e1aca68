package sockdiag

import "fmt"

// An OpError is the one error type Conn returns: the operation ("dump" or
// "destroy"), the request it was about, and the cause, which unwraps to the
// kernel's errno where there is one, so callers write
// errors.Is(err, unix.ENOENT).
type OpError struct {
	Op      string
	Request Request
	Err     error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("%s %s/%s: %v", e.Op, e.Request.Protocol, e.Request.Family, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
