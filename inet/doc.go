// Package inet is the vocabulary that sockets and conntrack entries share:
// protocols and address families (with Linux's numbers, so that wire code
// converts them with a plain cast), port ranges, endpoints and the parsers of
// their words (a PEER, a port list, an address or prefix), what it means for
// a selector to cover everything, and what became of a plan's target
// (Action, Summary).
//
// sockdiag (sockets) and flows (conntrack) each own their Filter and judge
// their own selection, but by the one rule here: a selector that takes in
// every address or every port is no selector, judged after every
// normalisation (a v4-mapped prefix is its IPv4 prefix). It knows nothing of
// either's wire, and imports nothing of tcpreap.
package inet
