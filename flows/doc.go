// Package flows is tcpreap's interface to the kernel's connection tracking
// (ctnetlink, the NFNL_SUBSYS_CTNETLINK subsystem of NETLINK_NETFILTER):
// conntrack entries (Flow) as a selection (Filter), listed by a dump and
// deleted one by one by their original tuple, zone and flow id (CTA_ID), the
// conntrack analogue of a socket's cookie: an entry that was replaced by a
// new one with the same tuple has another id, and the kernel answers ENOENT
// instead of deleting the new one (ctnetlink_del_conntrack compares CTA_ID
// when it is given). A Plan deletes its targets and dumps again to verify.
//
// What is filtered where: the dump request carries the address family
// (nfgenmsg), CTA_MARK/CTA_MARK_MASK (Linux 4.x+), CTA_STATUS/CTA_STATUS_MASK
// (Linux 5.19+) and CTA_ZONE (Linux 6.3+, ctnetlink_filter_match): an older
// kernel ignores what it does not know. Every entry the kernel returns is
// checked again in Go against the whole Filter: the kernel filter is a
// speed-up, never the only truth.
//
// The ctnetlink messages are encoded here, on github.com/mdlayher/netlink,
// as github.com/ti-mo/conntrack does: vishvananda/netlink's conntrack drops
// CTA_ID and CTA_STATUS when it decodes an entry and sends no dump filter.
// The wire code and the Filter build on any OS; a Conn needs Linux and
// CAP_NET_ADMIN in its network namespace, even to list.
package flows
