package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	goio "io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/watch"
	"github.com/urfave/cli/v3"
)

// watchCommand is tcpreap watch: the long-running reaper.
func watchCommand(args []string, io streams) *cli.Command {
	f := &watchFlags{}
	return &cli.Command{
		Name:  "watch",
		Usage: "count sockets every interval, export metrics, apply policies",
		Description: `Stays in the foreground: every interval it takes one census of each
network namespace it covers, serves it as Prometheus metrics on /metrics
(and /healthz), and applies the policies of the config in order. A report
policy counts and logs what it matches; a reap policy destroys it as
tcpreap does (the same selection words, guards, report on stdout as NDJSON,
and audit line), or nothing when it matches more than its max. Logs are
NDJSON on stderr. SIGTERM or SIGINT stop it (a reap in progress writes its
report and audit line first); SIGHUP reloads the config, and keeps the one
in force when the new one has errors.

A config (YAML):
  policies:
    - name: java-close-wait
      action: reap
      max: 200
      select: {state: close_wait, process: java, idle: 10m}
    - name: db-stalled
      action: report
      select: {stalled: true, remote-port: 5432}

Examples:
  tcpreap watch --config /etc/tcpreap/watch.yaml
  tcpreap watch --config watch.yaml --all-netns --interval 30s
  curl -s 127.0.0.1:9737/metrics | grep ^tcpreap_sockets

Exit codes: 0 stopped by a signal, 1 runtime failure, 2 a config or an
option with errors (one line each).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Destination: &f.config, Usage: "the policies: a YAML `FILE`"},
			&cli.StringFlag{Name: "listen", Destination: &f.listen, Value: watch.DefaultListen, Usage: "serve /metrics and /healthz on `ADDR`"},
			&cli.DurationFlag{Name: "interval", Destination: &f.interval, Value: watch.DefaultInterval, Usage: "take a census and apply the policies every `DURATION`"},
			&cli.IntFlag{Name: "top", Destination: &f.top, Value: watch.DefaultTop, Config: cli.IntegerConfig{Base: 10}, Usage: "give the `N` largest ports, processes and destinations of each namespace series of their own; the rest are other"},
			netnsFlag(&f.netns),
			&cli.BoolFlag{Name: "all-netns", Destination: &f.allNetns, Usage: "work in every network namespace of the host"},
			&cli.BoolFlag{Name: "no-audit", Destination: &f.noAudit, Usage: "do not write the audit line of a destroy to syslog"},
		},
		Action: action(&f.command, args, func(ctx context.Context) error { return runWatch(ctx, f, io) }),
	}
}

// watchFlags are watch's.
type watchFlags struct {
	command
	config, listen, netns string
	interval              time.Duration
	top                   int
	allNetns, noAudit     bool
}

// stopped is a watch a signal stopped, as asked: exit 0.
type stopped struct{}

func (stopped) Error() string { return "stopped" }

func runWatch(ctx context.Context, f *watchFlags, io streams) error {
	switch {
	case len(f.words) > 0:
		return usagef("watch takes no PEER (%s); put the selection in a policy of the config", f.words[0])
	case f.config == "":
		return usagef("--config: give the policies' file (see tcpreap watch --help)")
	case f.interval < time.Second || f.interval > time.Hour:
		return usagef("--interval %v: give 1s to 1h", f.interval)
	case f.top < 1 || f.top > 1000:
		return usagef("--top %d: give how many series of each to keep, 1 to 1000", f.top)
	case f.netns != "" && f.allNetns:
		return usagef("--netns %s and --all-netns: give one of them", f.netns)
	}
	log := slog.New(slog.NewJSONHandler(io.ErrOut, nil))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	err := watch.Run(ctx, watch.Options{
		Config: f.config, Listen: f.listen, Interval: f.interval, Top: f.top,
		Where:  reap.Where{NetNS: f.netns, All: f.allNetns},
		Select: policySelection, Act: policyActor{args: f.args, noAudit: f.noAudit, out: io.Out},
		Log: log, Reload: hup,
	})
	var ce *watch.ConfigError
	var le *watch.ListenError
	switch {
	case errors.As(err, &ce):
		for _, e := range ce.Errs {
			log.Error(e, "config", ce.Path)
		}
		log.Error("the config has errors; nothing was started", "config", ce.Path)
		return exitError{exitUsage}
	case errors.As(err, new(*reap.InputError)):
		err = queryError(err) // the option that named it
		log.Error(err.Error())
		if errors.As(err, new(usageError)) {
			return exitError{exitUsage}
		}
		return exitError{exitFailure}
	case err != nil:
		log.Error(err.Error())
		if errors.As(err, &le) {
			return exitError{exitFailure}
		}
		return exitError{exitUsage} // the config cannot be read, a --listen with no port
	}
	return stopped{}
}

// policySelection parses a policy's selection with tcpreap's own options
// and parser: a policy selects as the command line does.
func policySelection(ctx context.Context, words []string) (*reap.Selection, error) {
	f, _, peers, err := policyFlags(words)
	if err != nil {
		return nil, err
	}
	sel, err := newSelection(ctx, f, peers, false)
	if err != nil {
		return nil, err
	}
	return &sel.Selection, nil
}

// pacing names the options of destroyFlags a policy may give (rate,
// spread, order): the pace of its reap.
var pacing = []string{"rate", "spread", "order"}

// policyFlags reads a policy's words with tcpreap's options: the
// selectors, and the options of the pace.
func policyFlags(words []string) (*selectFlags, *destroyFlags, []string, error) {
	f, d := &selectFlags{}, &destroyFlags{}
	flags := f.flags()
	for _, fl := range d.flags() {
		if slices.Contains(pacing, fl.Names()[0]) {
			flags = append(flags, fl)
		}
	}
	var peers []string
	c := &cli.Command{Name: "select", Flags: flags, HideHelp: true, Writer: goio.Discard, ErrWriter: goio.Discard,
		DisableSliceFlagSeparator: true, Before: checkOptions,
		OnUsageError:   func(_ context.Context, _ *cli.Command, err error, _ bool) error { return err },
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Action:         func(_ context.Context, c *cli.Command) error { peers = c.Args().Slice(); return nil }}
	// A context of its own: one that holds watch would make select its
	// subcommand.
	if err := c.Run(context.Background(), append([]string{"select"}, words...)); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			return nil, nil, nil, fmt.Errorf("%s is not a selector; the selectors are tcpreap's (see tcpreap --help)", name)
		}
		return nil, nil, nil, err
	}
	if err := d.paced(); err != nil {
		return nil, nil, nil, err
	}
	return f, d, peers, nil
}

// A policyActor acts on a reap policy's plan through the one act path:
// its max is --max, its report NDJSON on out, its audit line the command
// line of watch with the policy's name and words.
type policyActor struct {
	args    []string
	noAudit bool
	out     goio.Writer
}

func (a policyActor) Act(ctx context.Context, p *watch.Policy, run *reap.Run) watch.Acted {
	var said bytes.Buffer
	f := &actFlags{maxFlag: maxFlag{set: true, max: p.Max}, outputFlags: outputFlags{json: true}, yes: true, noAudit: a.noAudit}
	_, d, _, err := policyFlags(p.Words) // read before, by policySelection
	if err != nil {
		return watch.Acted{Err: err}
	}
	if err := run.Arrange(ctx, d.order); err != nil {
		return watch.Acted{Err: err}
	}
	c := &policyCut{socketCut: socketCut{run, d}}
	err = act(ctx, &command{args: slices.Concat(a.args, []string{"policy=" + p.Name}, p.Words)}, f, streams{Out: a.out, ErrOut: &said}, c)
	acted := watch.Acted{Report: c.report, Refused: errors.As(err, new(refusal))}
	for line := range strings.Lines(said.String()) {
		acted.Warnings = append(acted.Warnings, strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(line), "tcpreap: "), "warning: "))
	}
	return acted
}

// A policyCut is a socketCut that keeps its report for the policy's
// counters.
type policyCut struct {
	socketCut
	report *reap.Report
}

func (c *policyCut) execute(ctx context.Context, progress func(int)) outcome {
	out := c.socketCut.execute(ctx, progress).(socketOutcome)
	c.report = out.Report
	return out
}
