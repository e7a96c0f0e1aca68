//go:build !linux

package host

import "errors"

var errNoNetNS = errors.New("is no network namespace: they are Linux's")

func netNSInode(int) (uint64, error) { return 0, errNoNetNS }

var errNotNSFS = errNoNetNS

func openNSFile(string) (int, error) { return -1, errNoNetNS }

func enterNetNS(int) error { return errNoNetNS }

func isMainThread() bool { return false }
