package testnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PlanHeader is the first line of a plan file.
type PlanHeader struct {
	Version    int       `json:"version"`
	BootID     string    `json:"boot_id"`
	Created    time.Time `json:"created"`
	Command    []string  `json:"command"`
	Everything bool      `json:"everything"`
	Sockets    int       `json:"sockets"`
}

// The keys of a plan file's lines, as docs/reference.md documents them.
var (
	planHeaderKeys  = []string{"version", "boot_id", "created", "command", "everything", "sockets"}
	planRecordKeys  = []string{"proto", "family", "state", "timer", "retrans", "expires_ms", "recv_q", "send_q", "local_ip", "local_port", "remote_ip", "remote_port", "interface", "cookie", "uid", "inode", "netns", "action"}
	planSummaryKeys = []string{"targets", "skipped"}
)

// ParsePlan decodes a plan file (version 2) on its own, without tcpreap's reader: the
// header, one socket per line, and the summary with the digest. Its sockets come back as
// a dry run's report would have them: a target as would_kill, a skip as skipped with its
// reason code, each with the network namespace it was planned in.
func ParsePlan(file string) (PlanHeader, Report, []string, error) {
	var hdr PlanHeader
	var r Report
	var netns []string
	lines := strings.SplitAfter(file, "\n")
	if len(lines) < 3 || lines[len(lines)-1] != "" {
		return hdr, r, nil, errors.New("a plan file has a header, a summary, and ends with a newline")
	}
	lines = lines[:len(lines)-1]
	var head struct{ Plan json.RawMessage }
	if err := json.Unmarshal([]byte(lines[0]), &head); err != nil || head.Plan == nil {
		return hdr, r, nil, fmt.Errorf("first line %q is not a plan header", lines[0])
	}
	if err := decodeStrict(head.Plan, planHeaderKeys, &hdr); err != nil {
		return hdr, r, nil, fmt.Errorf("header %q: %w", lines[0], err)
	}
	for _, line := range lines[1 : len(lines)-1] {
		var rec struct {
			Record
			NetNS string `json:"netns"`
		}
		if err := decodeStrict([]byte(line), planRecordKeys, &rec); err != nil {
			return hdr, r, nil, fmt.Errorf("socket %q: %w", line, err)
		}
		switch rec.Action {
		case "destroy":
			rec.Action = "would_kill"
		case "skip":
			rec.Action = "skipped"
		default:
			return hdr, r, nil, fmt.Errorf("socket %q: action %q", line, rec.Action)
		}
		r.Sockets = append(r.Sockets, rec.Record)
		netns = append(netns, rec.NetNS)
	}
	var tail struct {
		Summary json.RawMessage
		Digest  string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &tail); err != nil || tail.Summary == nil || tail.Digest == "" {
		return hdr, r, nil, fmt.Errorf("last line %q is not the summary with the digest", lines[len(lines)-1])
	}
	var counts struct{ Targets, Skipped int }
	if err := decodeStrict(tail.Summary, planSummaryKeys, &counts); err != nil {
		return hdr, r, nil, fmt.Errorf("summary %q: %w", lines[len(lines)-1], err)
	}
	r.Summary = Summary{Matched: counts.Targets + counts.Skipped, Skipped: counts.Skipped, DryRun: true}
	return hdr, r, netns, nil
}
