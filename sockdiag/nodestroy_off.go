//go:build !tcpreap_nodestroy

package sockdiag

// withoutDestroy makes Probe find no SOCK_DESTROY, as on a kernel built
// without CONFIG_INET_DIAG_DESTROY, in a build with the tag
// tcpreap_nodestroy: the tests' way to make the diag engine refuse every
// target (see nodestroy_on.go). Never in a release.
const withoutDestroy = false
