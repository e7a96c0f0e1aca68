// Package inet is the vocabulary that sockets and conntrack entries share:
// protocols and address families (with Linux's numbers, so that wire code
// converts them with a plain cast), port ranges, endpoints and the parsers of
// their words (a PEER, a port list, an address or prefix), and what became
// of a plan's target (Action, Summary). It knows nothing of sockets' or
// conntrack's wire, and imports nothing of tcpreap.
package inet
