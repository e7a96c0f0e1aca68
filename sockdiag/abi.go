package sockdiag

// The kernel's numbers that tcpreap speaks, each with its C symbol. They are
// Linux's own values, defined here rather than taken from x/sys/unix so that
// the package builds and its tests run on any OS (AF_INET6 is 30 on Darwin).
const (
	afUnspec = 0  // AF_UNSPEC
	afInet   = 2  // AF_INET
	afInet6  = 10 // AF_INET6

	netlinkSockDiag = 4 // NETLINK_SOCK_DIAG

	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	sockDestroy      = 21 // SOCK_DESTROY

	nlaHdrLen = 4 // NLA_HDRLEN

	inetDiagInfo     = 2  // INET_DIAG_INFO: asked for, it brings INET_DIAG_ULP_INFO along
	inetDiagULPInfo  = 19 // INET_DIAG_ULP_INFO
	inetULPInfoName  = 1  // INET_ULP_INFO_NAME
	inetDiagCgroupID = 21 // INET_DIAG_CGROUP_ID
)
