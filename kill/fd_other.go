//go:build !linux

package kill

import "errors"

var (
	errDenied = errors.New("permission denied")
	errBusy   = errors.New("busy")
	errNoFD   = errors.New("the fd engine needs Linux")
)

func take(Holder) (int, error)     { return -1, errNoFD }
func cookieOf(int) (uint64, error) { return 0, errNoFD }
func disconnect(int, bool) error   { return errNoFD }
func closeFD(int)                  {}
func fdOffered() string            { return "the fd engine needs Linux 5.6 or later" }
