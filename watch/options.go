package watch

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tcpreap/tcpreap/reap"
)

// The command line of tcpreap watch, which fills Options:
//
//	tcpreap watch --config FILE [--listen ADDR] [--interval DURATION]
//	              [--top N] [--netns NS | --all-netns] [--no-audit]
//
//	--config FILE        the policies (YAML); required
//	--listen ADDR        serve /metrics and /healthz on ADDR (127.0.0.1:9737)
//	--interval DURATION  take a census and apply the policies every DURATION (15s)
//	--top N              series per namespace for ports, processes and
//	                     destinations; the rest are "other" (20)
//	--netns NS           work in network namespace NS
//	--all-netns          work in every network namespace of the host
//	--no-audit           write no audit line to syslog for a destroy
//
// SIGTERM and SIGINT stop it (a reap in progress writes its report and its
// audit line first), SIGHUP reloads the config. Exit codes: 0 stopped by a
// signal, 1 a runtime failure (the address cannot be listened on), 2 bad
// input (a config that does not validate).

// Defaults of Options.
const (
	DefaultListen   = "127.0.0.1:9737"
	DefaultInterval = 15 * time.Second
	DefaultTop      = 20
)

// Options are what Run works with.
type Options struct {
	// Config is the path of the policies' file (Load).
	Config string
	// Listen is the address /metrics and /healthz are served on.
	Listen string
	// Interval is how often a census is taken and the policies applied.
	Interval time.Duration
	// Top is how many local ports, processes and destinations of each
	// namespace keep series of their own; the rest are "other".
	Top int
	// Where is the namespaces covered: one census of each per interval,
	// and every policy in all of them.
	Where reap.Where
	// Select parses a policy's selection as the one-shot command does.
	Select Selector
	// Act destroys a reap policy's plan through the one act path.
	Act Actor
	// Log takes the log lines (NDJSON on stderr).
	Log *slog.Logger
	// Reload tells Run to read the config again (SIGHUP).
	Reload <-chan os.Signal
}

// An Actor is the one path of everything that destroys: it refuses a plan
// over the policy's ceiling (Max) whole, destroys the rest at the
// policy's pace, reports every socket and writes the audit line.
type Actor interface {
	Act(ctx context.Context, p *Policy, run *reap.Run) Acted
}

// Acted is what an Actor did with a plan.
type Acted struct {
	// Report is every socket's result; nil when the plan was refused.
	Report *reap.Report
	// Refused: the plan had more targets than the ceiling, and nothing
	// was destroyed.
	Refused bool
	// Warnings are sentences of what went wrong besides the results: an
	// audit line not written, what a kind of failure means.
	Warnings []string
	// Err is why the plan could not be acted on at all; nothing was
	// destroyed.
	Err error
}
