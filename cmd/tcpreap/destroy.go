package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/urfave/cli/v3"
)

// destroy is the pipeline after the plan: the guards that may refuse it
// whole (--max, the confirmation), the destroy and its verification, the
// audit line, and the report with its exit code.
func destroy(cmd *cli.Command, term terminal, conn kill.Conn, plan *kill.Plan, out renderer) error {
	n := len(plan.Targets)
	if cmd.IsSet("max") && n > int(cmd.Int("max")) {
		return refusal{fmt.Sprintf("%s would be destroyed, more than --max %d; nothing was destroyed (narrow the selection or raise --max)",
			plural(n, "socket"), cmd.Int("max"))}
	}
	if n > 0 && term.interactive && !cmd.Bool("yes") {
		ok, err := confirm(term, plan)
		if err != nil {
			return err
		}
		if !ok {
			return refusal{"not confirmed; nothing was destroyed"}
		}
	}
	results := plan.Execute(conn)
	if n > 0 && !cmd.Bool("no-audit") {
		if err := audit(os.Args, kill.Summarize(results)); err != nil {
			fmt.Fprintf(term.stderr, "tcpreap: warning: the audit line was not written to syslog: %v\n", err)
		}
	}
	if err := out.report(results, false); err != nil {
		return err
	}
	return failures(results, term)
}

// checkDestroyOptions refuses destroy options that make no sense, before the
// kernel is asked anything.
func checkDestroyOptions(cmd *cli.Command) error {
	if cmd.Int("max") < 0 {
		return usageError{fmt.Errorf("--max %d: give the largest number of sockets to destroy, 0 or more", cmd.Int("max"))}
	}
	return nil
}

// explain is what to say once about a kind of failure.
var explain = map[error]string{
	kill.ErrPermission:   kill.ErrPermission.Error(),
	kill.ErrNoDestroy:    kill.ErrNoDestroy.Error(),
	kill.ErrStillPresent: "the kernel accepted some destroys but the sockets are still there (kernels before 6.11 do this for orphaned sockets)",
	kill.ErrUnreachable:  "some sockets share their address and port with others (SO_REUSEPORT) and the kernel finds a sibling when asked for them by address; they are still there: stop their application instead",
}

// failures says once what the failed destroys have in common and what to do,
// and returns the exit code of the run.
func failures(results []kill.Result, term terminal) error {
	said := map[error]bool{}
	failed := 0
	for _, r := range results {
		if r.Action != kill.Failed {
			continue
		}
		failed++
		for _, known := range []error{kill.ErrPermission, kill.ErrNoDestroy, kill.ErrStillPresent, kill.ErrUnreachable} {
			if errors.Is(r.Err, known) && !said[known] {
				said[known] = true
				fmt.Fprintf(term.stderr, "tcpreap: %s\n", explain[known])
			}
		}
	}
	if failed == 0 {
		return nil
	}
	if len(said) == 0 {
		fmt.Fprintf(term.stderr, "tcpreap: %d of the sockets could not be destroyed; see their errors above\n", failed)
	}
	return exitError{exitFailure}
}
