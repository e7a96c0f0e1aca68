package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// destroy is the pipeline after the plan, for tcpreap and apply: the guards
// that may refuse it whole (--max, the confirmation), the destroy and its
// verification, the audit line, and the report with its exit code.
func destroy(ctx context.Context, o *options, io streams, e kill.Engine, plan *kill.Plan) error {
	n := len(plan.Targets)
	if err := o.overMax(n); err != nil {
		return err
	}
	if n > 0 && io.Terminal != nil && !o.yes {
		if tty, err := io.Terminal(); err == nil {
			ok, why := confirm(ctx, tty, plan)
			tty.Close()
			if !ok {
				return refusal{why + "; nothing was destroyed"}
			}
		}
	}
	var bar *progress
	if conn, ok := e.(*sockdiag.Conn); ok && !o.quiet {
		bar = startProgress(io.Progress, n)
		if bar != nil {
			conn.OnDestroyed = bar.add
			defer func() { conn.OnDestroyed = nil }()
		}
	}
	results := plan.ExecuteWith(ctx, e, kill.Options{VerifyAll: o.verify})
	bar.finish()
	// The report first: the record of what happened to every socket must
	// not wait on the system logger.
	reportErr := renderer{w: io.Out, json: o.json, quiet: o.quiet}.report(results, false)
	if n > 0 && !o.noAudit {
		if err := audit(o.args, kill.Summarize(results)); err != nil {
			fmt.Fprintf(io.ErrOut, "tcpreap: warning: the audit line was not written to syslog: %s\n", printable(err.Error()))
		}
	}
	if reportErr != nil {
		return reportErr
	}
	return failures(results, io)
}

// failures says once what the failed destroys have in common and what to do,
// and returns the exit code of the run.
func failures(results []kill.Result, io streams) error {
	said := map[string]bool{}
	failed := 0
	for _, r := range results {
		if r.Action != kill.Failed {
			continue
		}
		failed++
		why, ok := sockdiag.Explain(r.Err)
		if !ok && errors.Is(r.Err, sockdiag.ErrNotAttempted) {
			why, ok = errorWords(r.Err), true // the table leaves these out
		}
		if ok && !said[why] {
			said[why] = true
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", printable(why))
		}
	}
	if failed == 0 {
		return nil
	}
	if len(said) == 0 {
		fmt.Fprintf(io.ErrOut, "tcpreap: %d of the sockets could not be destroyed; see their errors above\n", failed)
	}
	return exitError{exitFailure}
}
