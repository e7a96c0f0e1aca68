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

	inetDiagReqProtocol = 3   // INET_DIAG_REQ_PROTOCOL: a protocol number above 255
	ipprotoMPTCP        = 262 // IPPROTO_MPTCP

	inetULPInfoMPTCP         = 3      // INET_ULP_INFO_MPTCP: a subflow's, nested
	mptcpSubflowAttrTokenLoc = 2      // MPTCP_SUBFLOW_ATTR_TOKEN_LOC
	mptcpSubflowAttrFlags    = 8      // MPTCP_SUBFLOW_ATTR_FLAGS
	mptcpSubflowFlagMcapRem  = 1 << 0 // MPTCP_SUBFLOW_FLAG_MCAP_REM: the peer answered MP_CAPABLE
	mptcpSubflowFlagJoinRem  = 1 << 2 // MPTCP_SUBFLOW_FLAG_JOIN_REM: the peer sent MP_JOIN
)
