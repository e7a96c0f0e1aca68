// Package flows is tcpreap's interface to the kernel's connection tracking
// (ctnetlink, the NFNL_SUBSYS_CTNETLINK subsystem of NETLINK_NETFILTER):
// conntrack entries (Flow) as a selection (Filter), listed by a dump decoded
// as it arrives, and deleted a window of requests at a time (many in one
// sendmsg, answers matched by sequence number) by their original tuple, zone
// and flow id (CTA_ID), the conntrack analogue of a socket's cookie: the
// kernel answers ENOENT instead of deleting an entry of another id
// (ctnetlink_del_conntrack compares CTA_ID when it is given). An id is a
// hash of the entry's address and tuples, which a replacement can repeat, so
// a Plan fetches each window's entries first (GET) and deletes only those
// that are still the entry planned, then dumps again to verify.
//
// What is filtered where: the dump request carries the address family
// (nfgenmsg), the mark (CTA_MARK and CTA_MARK_MASK, a dump filter since
// Linux 3.x), one status word (CTA_STATUS and CTA_STATUS_MASK) and the zone
// (CTA_ZONE, a dump filter since Linux 6.8); a kernel that does not filter by
// one of them ignores it and sends more. Peers, ports, states, protocols and
// the reply source are matched in Go only. Every entry the kernel returns is
// checked again in Go against the whole Filter: the kernel filter is a
// speed-up, never the only truth.
//
// The ctnetlink messages are encoded here, on github.com/mdlayher/netlink,
// as github.com/ti-mo/conntrack does: vishvananda/netlink's conntrack drops
// CTA_ID and CTA_STATUS when it decodes an entry and sends no dump filter.
// The wire code and the Filter build on any OS; a Conn needs Linux and
// CAP_NET_ADMIN in its network namespace, even to list.
package flows
