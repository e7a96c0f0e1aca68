package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// A plan file is the NDJSON of a dry run between a header and a summary:
//
//	{"plan":{"version":1,"boot_id":…,"created":…,"command":[…]}}
//	{"proto":"tcp",…,"cookie":…,"action":"would_kill"}   one per socket
//	{"summary":{…},"digest":"sha256:…"}
//
// The digest covers every byte before the summary line, so a file that was
// cut short or edited is refused. The boot id ties the cookies to the boot
// they were dumped in: after a reboot the same cookie names another socket.
const planVersion = 1

type planHeader struct {
	Version int       `json:"version"`
	BootID  string    `json:"boot_id"`
	NetNS   string    `json:"netns"` // cookies are per boot, lookups per namespace
	Created time.Time `json:"created"`
	Command []string  `json:"command"`
	// Everything: the plan had no selector, and apply needs --all as the
	// destroy itself would have.
	Everything bool `json:"everything"`
}

type planTrailer struct {
	Summary *summaryJSON `json:"summary"`
	Digest  string       `json:"digest"`
}

const bootIDFile = "/proc/sys/kernel/random/boot_id"

// where names the boot and the network namespace tcpreap runs in.
func where() (bootID, netns string, err error) {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return "", "", fmt.Errorf("cannot tell which boot this is: %v", err)
	}
	netns, err = os.Readlink("/proc/self/ns/net")
	if err != nil {
		return "", "", fmt.Errorf("cannot tell which network namespace this is: %v", err)
	}
	return strings.TrimSpace(string(b)), netns, nil
}

// writePlan writes the plan file of a plan.
func writePlan(w io.Writer, plan *kill.Plan, command []string, everything bool) error {
	boot, netns, err := where()
	if err != nil {
		return err
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	hdr := planHeader{Version: planVersion, BootID: boot, NetNS: netns, Created: time.Now().UTC().Truncate(time.Second),
		Command: command, Everything: everything}
	if err := enc.Encode(map[string]planHeader{"plan": hdr}); err != nil {
		return err
	}
	results := plan.DryRun()
	for _, r := range results {
		if err := enc.Encode(toJSON(r)); err != nil {
			return err
		}
	}
	sum := summaryOf(results, true)
	trailer := planTrailer{Summary: &sum, Digest: digest(body.Bytes())}
	if err := enc.Encode(trailer); err != nil {
		return err
	}
	_, err = w.Write(body.Bytes())
	return err
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// apply destroys the sockets of a plan file that still exist with their
// cookies; the others are reported gone.
func apply(cmd *cli.Command, term terminal) error {
	if cmd.Args().Len() != 1 {
		return usageError{errors.New("apply takes one plan file, or - for stdin (see tcpreap plan)")}
	}
	if err := checkDestroyOptions(cmd); err != nil {
		return err
	}
	name := cmd.Args().First()
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(term.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return usageError{fmt.Errorf("cannot read the plan file: %v", err)}
	}
	planned, everything, err := readPlan(data)
	if err != nil {
		return usageError{fmt.Errorf("plan file %s: %w; nothing was destroyed", name, err)}
	}
	if everything && !cmd.Bool("all") {
		return usageError{fmt.Errorf("plan file %s was made with no selector, for every socket; apply it with --all if that is what you mean; nothing was destroyed", name)}
	}
	// The guards run again where the plan is applied: a plan made elsewhere
	// must not cut the session it is applied from. LISTEN targets stay: the
	// plan already chose them.
	ss, note := session(cmd)
	if note != "" && !cmd.Bool("quiet") {
		fmt.Fprintf(term.stderr, "tcpreap: %s\n", note)
	}
	plan, err := kill.NewPlan(func(yield func(sockdiag.Socket, error) bool) {
		for _, s := range planned.Targets {
			if !yield(s, nil) {
				return
			}
		}
	}, kill.Guards{ListenNamed: true, Session: ss})
	if err != nil {
		return err
	}
	plan.Skipped = append(plan.Skipped, planned.Skipped...)
	conn, err := sockdiag.Dial(nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	return destroy(cmd, term, conn, plan, renderer{w: term.stdout, json: cmd.Bool("json"), quiet: cmd.Bool("quiet")})
}

// readPlan checks a plan file whole before it trusts any of it, and says
// whether the plan was made with no selector. The digest catches accidents
// (a cut or edited file), not tampering: a plan file is trusted like any
// script root runs.
func readPlan(data []byte) (plan *kill.Plan, everything bool, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, false, errors.New("it is empty")
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var head struct{ Plan *planHeader }
	if err := json.Unmarshal(lines[0], &head); err != nil || head.Plan == nil {
		return nil, false, errors.New("it is not a tcpreap plan (its first line is not the plan header; write one with tcpreap plan)")
	}
	if head.Plan.Version != planVersion {
		return nil, false, fmt.Errorf("it is a version %d plan and this tcpreap reads version %d; make the plan again with this tcpreap", head.Plan.Version, planVersion)
	}
	if lines[len(lines)-1] != nil && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	last := lines[len(lines)-1]
	var tail planTrailer
	if !bytes.HasSuffix(last, []byte("\n")) || json.Unmarshal(last, &tail) != nil || tail.Summary == nil || len(lines) < 2 {
		return nil, false, errors.New("it is truncated (its last line is not the summary); make the plan again")
	}
	if tail.Digest != digest(data[:len(data)-len(last)]) {
		return nil, false, errors.New("it was changed after tcpreap wrote it (the digest does not match); make the plan again instead of editing it")
	}
	boot, netns, err := where()
	if err != nil {
		return nil, false, err
	}
	if head.Plan.BootID != boot {
		return nil, false, errors.New("it was made on another host or before the last reboot (the boot id differs), where its cookies name other sockets; make the plan again")
	}
	if head.Plan.NetNS != netns {
		return nil, false, fmt.Errorf("it was made in network namespace %s and this is %s, where none of its sockets are; apply it where it was made (ip netns exec, nsenter --net)", head.Plan.NetNS, netns)
	}
	plan = &kill.Plan{}
	for i, line := range lines[1 : len(lines)-1] {
		var j socketJSON
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, false, fmt.Errorf("line %d: %v", i+2, err)
		}
		s, err := j.socket()
		if err != nil {
			return nil, false, fmt.Errorf("line %d: %v", i+2, err)
		}
		switch j.Action {
		case kill.WouldKill.String():
			plan.Targets = append(plan.Targets, s)
		case kill.Skipped.String():
			plan.Skipped = append(plan.Skipped, kill.Skip{Socket: s, Reason: j.Reason})
		default:
			return nil, false, fmt.Errorf("line %d: action %q has no place in a plan", i+2, j.Action)
		}
	}
	// The digest cannot cover its own line: that line must be exactly what
	// tcpreap writes for these sockets.
	sum := summaryOf(plan.DryRun(), true)
	want, err := json.Marshal(planTrailer{Summary: &sum, Digest: tail.Digest})
	if err != nil {
		return nil, false, err
	}
	if !bytes.Equal(append(want, '\n'), last) {
		return nil, false, errors.New("it was changed after tcpreap wrote it (its summary line is not the one tcpreap writes for its sockets); make the plan again instead of editing it")
	}
	return plan, head.Plan.Everything, nil
}

// socket reads a socket back from its JSON object.
func (j socketJSON) socket() (sockdiag.Socket, error) {
	s := sockdiag.Socket{UID: j.UID, Inode: j.Inode}
	var ok bool
	if s.Protocol, ok = byName(j.Proto, sockdiag.TCP, sockdiag.UDP); !ok {
		return s, fmt.Errorf("unknown proto %q", j.Proto)
	}
	if s.Family, ok = byName(j.Family, sockdiag.IPv4, sockdiag.IPv6); !ok {
		return s, fmt.Errorf("unknown family %q", j.Family)
	}
	mask, _, err := sockdiag.ParseStates(j.State)
	if err != nil || bits.OnesCount32(uint32(mask)) != 1 {
		return s, fmt.Errorf("state %q is not one state", j.State)
	}
	s.State = sockdiag.State(bits.TrailingZeros32(uint32(mask)))
	local, err1 := netip.ParseAddr(j.LocalIP)
	remote, err2 := netip.ParseAddr(j.RemoteIP)
	if err := errors.Join(err1, err2); err != nil {
		return s, err
	}
	if local.Is4() != (s.Family == sockdiag.IPv4) || remote.Is4() != (s.Family == sockdiag.IPv4) {
		return s, fmt.Errorf("addresses %s and %s are not of family %s", local, remote, s.Family)
	}
	if j.Cookie == 0 || j.Cookie == 1<<64-1 {
		return s, fmt.Errorf("cookie %d names no socket", j.Cookie)
	}
	s.ID = sockdiag.SockID{
		Local:     netip.AddrPortFrom(local, j.LocalPort),
		Remote:    netip.AddrPortFrom(remote, j.RemotePort),
		Interface: j.Interface,
		Cookie:    sockdiag.Cookie(j.Cookie),
	}
	return s, nil
}

// byName finds the value that prints as name, so that reading a plan uses
// the same names as writing it.
func byName[T fmt.Stringer](name string, values ...T) (T, bool) {
	for _, v := range values {
		if v.String() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}
