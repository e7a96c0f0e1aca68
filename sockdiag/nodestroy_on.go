//go:build tcpreap_nodestroy

package sockdiag

// withoutDestroy: this build is a test's, for a kernel without
// SOCK_DESTROY; Probe says so whatever the kernel has.
const withoutDestroy = true
