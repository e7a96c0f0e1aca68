// Package kill is the middle of tcpreap's pipeline: it turns the sockets a
// query selected into a Plan (the targets, each with the cookie it was
// dumped with, and the sockets a guard kept back, each with its Reason),
// executes it through an Engine that speaks in targets and cookies
// (*sockdiag.Conn is one, SOCK_DESTROY's; sockfd.Engine another, and an
// engine may fall back to the next for what it refuses), verifies the
// outcome with a second look, and returns one Result per socket, with the
// engine that acted: killed, gone, failed or skipped (inet's Action, which
// conntrack entries share; inet.Summarize counts them). A Pace (ParseRate,
// ParseSpread) sends the targets in batches at a rate or over a spread, each
// batch looked up again just before it goes.
//
// A Go program that wants tcpreap's cookie-safe destroy needs only this
// package, sockdiag and inet: query, plan, execute (see the example).
package kill
