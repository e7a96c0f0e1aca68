package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/audit"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A cut is what the act path destroys (sockets, from a selection or a plan
// file) or deletes (conntrack entries): planned, not yet acted on.
type cut interface {
	words() cutWords
	// targets is how many it would act on, skipped how many a guard kept
	// back.
	targets() int
	skipped() int
	// summary is the plan's summary, for the confirmation.
	summary() string
	// execute acts on the targets; progress is told how many each step
	// settled, when the cut tellsProgress.
	execute(ctx context.Context, progress func(settled int)) outcome
	// tellsProgress reports whether execute tells its progress: only then
	// does a long run show a progress bar, which would otherwise stand still.
	tellsProgress() bool
	// pace is the pace of a paced run ("at 100/s"), for the progress bar;
	// "" for none.
	pace() string
}

// An outcome is what a cut did.
type outcome interface {
	render(w io.Writer, json, quiet bool) error
	summary() inet.Summary
	// spaces are the network namespaces acted in, as a person names them;
	// "" for the one tcpreap runs in.
	spaces() []string
	// engines names the engines that acted, for the audit line; none for
	// conntrack.
	engines() []string
	// failed yields the error of each target that failed.
	failed(yield func(error) bool)
	// explain is what a failure means and what to do, said once for all
	// the targets it failed alike.
	explain(err error) (string, bool)
}

// refuseOverMax refuses a plan of n targets larger than --max, for a real
// run and a dry run alike; nil when it is not.
func refuseOverMax(a *maxFlag, n int, w cutWords) *refusal {
	if a.set && n > a.max {
		return &refusal{fmt.Sprintf("%s would be %s, more than --max %d; nothing was %s (narrow the selection or raise --max)",
			w.noun(n), w.done, a.max, w.done)}
	}
	return nil
}

// act is the one path of everything that destroys or deletes: the guards
// that may refuse it whole (--max, the confirmation on a terminal), the
// execution with its progress, the report, the audit line, one sentence per
// kind of failure, and the exit code.
func act(ctx context.Context, cmd *command, a *actFlags, io streams, c cut) error {
	w := c.words()
	n := c.targets()
	// A refused plan, with --json, still ends in its summary object, which
	// says why.
	refuse := func(err refusal) error {
		if a.json {
			sum := inet.Summary{Matched: n + c.skipped(), WouldKill: n, Skipped: c.skipped()}
			if werr := render.Refused(io.Out, sum, false, err.msg); werr != nil {
				fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(werr.Error()))
			}
		}
		return err
	}
	if err := refuseOverMax(&a.maxFlag, n, w); err != nil {
		return refuse(*err)
	}
	if n > 0 && io.Terminal != nil && !a.yes {
		if tty, err := io.Terminal(); err == nil {
			ok, why := ask(ctx, tty, c.summary(), fmt.Sprintf("%s %s? [y/N] ", w.verb, w.noun(n)))
			tty.Close()
			if !ok {
				return refuse(refusal{why + "; nothing was " + w.done})
			}
		}
	}
	var bar *render.Progress
	if !a.quiet && c.tellsProgress() {
		bar = render.StartProgress(io.Progress, n, c.pace())
	}
	var progress func(int)
	if bar != nil {
		progress = bar.Add
	}
	recording.RLock()
	out := c.execute(ctx, progress)
	bar.Finish()
	// The audit line and the report at once: the record of what happened
	// to every target waits neither on the system logger nor on a reader of
	// stdout that does not read (a pager; a second signal exits once the line
	// is written).
	var audited chan error
	if n > 0 && !a.noAudit {
		audited = make(chan error, 1)
		go func() {
			err := audit.Write(cmd.args, out.spaces(), out.engines(), out.summary())
			recording.RUnlock()
			audited <- err
		}()
	} else {
		recording.RUnlock()
	}
	reportErr := out.render(io.Out, a.json, a.quiet)
	if audited != nil {
		if err := <-audited; err != nil {
			fmt.Fprintf(io.ErrOut, "tcpreap: warning: the audit line was not written to syslog: %s\n", render.Printable(err.Error()))
		}
	}
	if reportErr != nil {
		// Said here, as a run that acted: an interruption meanwhile must
		// not turn it into "nothing was destroyed".
		fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(reportErr.Error()))
		return exitError{exitFailure}
	}
	said := map[string]bool{}
	failed := 0
	for err := range out.failed {
		failed++
		if why, ok := out.explain(err); ok && !said[why] {
			said[why] = true
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(why))
		}
	}
	if failed == 0 {
		return nil
	}
	if len(said) == 0 {
		fmt.Fprintf(io.ErrOut, "tcpreap: %d of the %s could not be %s; see their errors above\n", failed, w.many, w.done)
	}
	return exitError{exitFailure}
}

// A socketCut is the sockets of a Run, destroyed as destroyFlags say.
type socketCut struct {
	run *reap.Run
	d   *destroyFlags
}

func (socketCut) words() cutWords     { return socketWords }
func (socketCut) tellsProgress() bool { return true }
func (c socketCut) pace() string      { return render.PacePhrase(c.d.pace) }
func (c socketCut) targets() int      { return c.run.Targets() }
func (c socketCut) skipped() int      { return c.run.Skipped() }
func (c socketCut) summary() string {
	return render.PlanSummary(c.run.Breakdown(), c.run.Targets(), c.run.Skipped(), c.run.Spaces())
}

func (c socketCut) execute(ctx context.Context, progress func(int)) outcome {
	return socketOutcome{c.run.Execute(ctx, reap.ExecuteOptions{VerifyAll: c.d.verify, Progress: progress, Engine: c.d.engine, Pace: c.d.pace})}
}

type socketOutcome struct{ *reap.Report }

func (o socketOutcome) render(w io.Writer, json, quiet bool) error {
	return render.Sockets{W: w, JSON: json, Quiet: quiet}.Report(o.Report)
}

func (o socketOutcome) summary() inet.Summary { return o.Summary() }

func (o socketOutcome) engines() []string { return o.Engines() }

// spaces are the namespaces a destroy was sent in: a run over every
// namespace looked at many where nothing was done, and naming them all
// would push the ones acted in out of the audit line's bounded field.
// tcpreap's own is "", which the audit line names by its identity.
func (o socketOutcome) spaces() []string {
	var names []string
	for g := range o.Groups() {
		switch {
		case !g.Acted():
		case g.Here:
			names = append(names, "")
		default:
			names = append(names, g.NetNS)
		}
	}
	return names
}

// failed yields the errors of the targets that failed, and of those whose
// destroy is pending: not done, so no success.
func (o socketOutcome) failed(yield func(error) bool) {
	for r := range o.Results() {
		if (r.Action == inet.Failed || r.Action == inet.Pending) && !yield(r.Err) {
			return
		}
	}
}

func (socketOutcome) explain(err error) (string, bool) {
	why, ok := render.Explain(err)
	if !ok && errors.Is(err, sockdiag.ErrNotAttempted) {
		return render.ErrorWords(err), true // the table leaves these out
	}
	return why, ok
}

// A flowCut is the conntrack entries of a plan; reset resets their ends
// first.
type flowCut struct {
	run   *reap.FlowRun
	reset bool
}

func (flowCut) words() cutWords     { return flowWords }
func (flowCut) tellsProgress() bool { return false } // flows.Plan.Execute tells none
func (flowCut) pace() string        { return "" }
func (c flowCut) targets() int      { return len(c.run.Plan().Targets) }
func (c flowCut) skipped() int      { return len(c.run.Plan().Skipped) }
func (c flowCut) summary() string   { return render.FlowPlanSummary(c.run.Plan(), c.run.NetNS()) }

func (c flowCut) execute(ctx context.Context, _ func(int)) outcome {
	return flowOutcome{c.run.Execute(ctx, reap.FlowOptions{Reset: c.reset}), c.run.NetNS()}
}

type flowOutcome struct {
	results []flows.Result
	netns   string
}

func (o flowOutcome) render(w io.Writer, json, quiet bool) error {
	return render.Flows{W: w, JSON: json, Quiet: quiet}.Report(o.results, false)
}

func (o flowOutcome) summary() inet.Summary { return inet.Summarize(o.results) }

func (o flowOutcome) spaces() []string { return []string{o.netns} }

func (flowOutcome) engines() []string { return nil }

func (o flowOutcome) failed(yield func(error) bool) {
	for _, r := range o.results {
		if r.Action == inet.Failed && !yield(r.Err) {
			return
		}
	}
}

func (flowOutcome) explain(err error) (string, bool) { return reap.ExplainFlow(err) }
