// Package watch is tcpreap's long-running reaper: every interval it takes
// one census of each network namespace it covers and keeps it as
// Prometheus metrics (served from the last census, so that a scrape does
// no work but writing them), and applies the policies of a config file in
// order. A policy is a selection in the one-shot command's words, parsed
// by the caller's Selector as the command line parses it, and an action:
// report (count and log) or reap (destroy, through the caller's Actor: the
// one act path, with its ceiling, report and audit line). Guards of the
// selection (the SSH session, listeners not named, MPTCP subflows) are
// reap's, as for every run.
//
// watch logs through a slog.Logger, prints nothing else, and names no
// command-line option: metrics.go declares the metrics it exports, and
// options.go the command line that fills Options.
package watch
