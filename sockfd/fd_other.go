//go:build !linux

package sockfd

import (
	"errors"

	"github.com/tcpreap/tcpreap/host"
)

var (
	errDenied = errors.New("permission denied")
	errBusy   = errors.New("busy")
	errNoFD   = errors.New("the fd engine needs Linux")
)

func take(host.Owner) (int, error)      { return -1, errNoFD }
func cookieOf(int) (uint64, error)      { return 0, errNoFD }
func disconnect(int, bool) error        { return errNoFD }
func closeFD(int)                       {}
func protocolOf(int) (int, error)       { return 0, errNoFD }
func mptcpOf(int) (mptcpSocket, bool)   { return mptcpSocket{}, false }
func netnsCookieOf(int) (uint64, error) { return 0, errNoFD }
func namespaceCookie() (uint64, error)  { return 0, errNoFD }
func offered() string                   { return "the fd engine needs Linux 5.6 or later" }
