package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tcpreap/tcpreap/doctor"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/urfave/cli/v3"
)

// doctorCommand is tcpreap doctor: the facts behind the runbooks, measured here.
func doctorCommand(args []string, io streams) *cli.Command {
	o := &options{}
	return &cli.Command{
		Name:  "doctor",
		Usage: "what this kernel can do, what the sysctls mean, port pressure, leaks",
		Description: `Says, each with the number it rests on: whether this kernel lists and destroys TCP and
UDP sockets (asked of the kernel, with no privilege needed; a TCP connection and a UDP
socket of its own on 127.0.0.1 must show in a dump, or a diag module is missing), TIME_WAIT
and orphan destroys, MPTCP; what tcp_fin_timeout, tcp_tw_reuse, tcp_max_tw_buckets,
ip_local_port_range, tcp_retries2 and keepalive really do (and that tcp_tw_recycle is gone
since 4.12); which destinations hold more than half of the local ports; and which processes
leak CLOSE_WAIT sockets. Destroys nothing. Exit 0 when nothing warns, 1 when something does.

Examples:
  tcpreap doctor                          the report
  tcpreap doctor --json | jq '.findings[] | select(.warn)'`,
		Flags:  []cli.Flag{o.netnsFlag(), o.jsonFlag()},
		Action: o.action(args, func(ctx context.Context, o *options) error { return diagnose(ctx, o, io) }),
	}
}

// doctorSysctls are the settings the doctor reads, under /proc/sys/net.
var doctorSysctls = []string{"ipv4.tcp_fin_timeout", "ipv4.tcp_tw_reuse", "ipv4.tcp_tw_recycle", "ipv4.tcp_max_tw_buckets",
	"ipv4.tcp_retries2", "ipv4.tcp_keepalive_time", "ipv4.tcp_keepalive_intvl", "ipv4.tcp_keepalive_probes", "mptcp.enabled"}

func diagnose(ctx context.Context, o *options, io streams) error {
	if len(o.words) > 0 {
		return usagef("doctor takes no arguments (it looks at every socket): %q", o.words[0])
	}
	o.tcp, o.udp, o.top = true, true, 10
	p, c, err := takeCensus(ctx, o, io)
	if err != nil {
		return err
	}
	defer parts{p}.close()
	// The settings are the namespace's own: read from a thread in it.
	var ports [2]uint16
	var sysctls map[string]string
	err = p.ns.Do(func() (err error) {
		sysctls = host.Sysctls(doctorSysctls...)
		ports, err = host.LocalPortRange()
		return err
	})
	if err != nil {
		return inSpace(p.ns, fmt.Errorf("cannot read net.ipv4.ip_local_port_range: %v", err))
	}
	// After the census, which the doctor's own sockets are not to be in; in
	// the namespace's loopback (sockets are made by the thread that asks).
	var own map[inet.Protocol]doctor.OwnCheck
	p.ns.Do(func() error { own = doctor.CheckOwn(ctx, p.conn); return nil })
	findings := doctor.Examine(doctor.Facts{Support: p.conn.Probe(ctx), Own: own, Orphans: p.conn.DestroysOrphans(ctx),
		Sysctls: sysctls, Census: c, PortRange: ports})
	if o.json {
		type finding struct {
			Check string `json:"check"`
			Warn  bool   `json:"warn"`
			Says  string `json:"says"`
		}
		out := struct {
			Warn     bool      `json:"warn"`
			Findings []finding `json:"findings"`
		}{Warn: doctor.Warns(findings), Findings: []finding{}}
		for _, f := range findings {
			out.Findings = append(out.Findings, finding(f))
		}
		if err := json.NewEncoder(io.Out).Encode(out); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		for _, f := range findings {
			mark := "ok  "
			if f.Warn {
				mark = "WARN"
			}
			// One finding a paragraph, within a 100-column terminal, its
			// lines after the first under the check's name.
			says, command := printable(f.Says), ""
			if i := strings.Index(says, ": tcpreap "); i >= 0 {
				// The command that relieves it, on a line of its own, whole.
				says, command = says[:i+1], says[i+2:]
			}
			lines := wrapWords(printable(f.Check)+": "+says, helpWidth-len(mark)-1)
			if command != "" {
				lines = append(lines, command)
			}
			fmt.Fprintf(&b, "%s %s\n", mark, strings.Join(lines, "\n"+strings.Repeat(" ", len(mark)+1)))
		}
		if _, err := fmt.Fprint(io.Out, b.String()); err != nil {
			return err
		}
	}
	if doctor.Warns(findings) {
		return exitError{exitFailure}
	}
	return nil
}
