package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// destroy is the pipeline after the plan, for tcpreap and apply: the guards
// that may refuse it whole (--max, the confirmation), the destroy and its
// verification, the audit line, and the report with its exit code.
func destroy(ctx context.Context, o *options, io streams, ps parts) error {
	n := ps.targets()
	if err := o.overMax(n); err != nil {
		return err
	}
	if n > 0 && io.Terminal != nil && !o.yes {
		if tty, err := io.Terminal(); err == nil {
			ok, why := confirm(ctx, tty, ps.merged())
			tty.Close()
			if !ok {
				return refusal{why + "; nothing was destroyed"}
			}
		}
	}
	var bar *progress
	if !o.quiet {
		bar = startProgress(io.Progress, n)
	}
	var results []kill.Result
	spaces := ps.index()
	for _, p := range ps {
		if bar != nil {
			p.conn.OnDestroyed = bar.add
		}
		// A namespace after an interruption is not destroyed in: its
		// targets are reported not attempted.
		done := p.plan.ExecuteWith(ctx, p.conn, kill.Options{VerifyAll: o.verify})
		if len(ps) == 1 {
			results = done // not copied: 8 MB for 250,000 targets
		} else {
			results = append(results, done...)
		}
		p.conn.OnDestroyed = nil
		if spaces != nil {
			spaces.ends = append(spaces.ends, len(results))
		}
	}
	bar.finish()
	// The report first: the record of what happened to every socket must
	// not wait on the system logger.
	reportErr := renderer{w: io.Out, json: o.json, quiet: o.quiet, spaces: spaces}.report(results, false)
	if n > 0 && !o.noAudit {
		if err := audit(o.args, inet.Summarize(results)); err != nil {
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
		if r.Action != inet.Failed {
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
