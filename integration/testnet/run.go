package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// Result is how a program run in a namespace ended.
type Result struct {
	Stdout, Stderr string
	Code           int // exit code
}

// Run runs argv in h through `ip netns exec`, with stdin from /dev/null (so tcpreap sees no
// terminal and never prompts) and without SSH_CONNECTION (so tcpreap's guard for its own
// SSH connection cannot depend on how the tests were started). The error is only for a
// program that could not be started, was killed, or ran for more than 30 seconds; a
// non-zero exit is a Result.
func (h *Host) Run(argv ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*timeout)
	defer cancel()
	return h.run(h.Command(ctx, argv...), argv)
}

// RunHostMounts is Run through nsenter --net instead of `ip netns exec`, which mounts a
// /sys of its own without the machine's cgroup hierarchies: the program sees the
// machine's mounts (tcpreap --cgroup).
func (h *Host) RunHostMounts(argv ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*timeout)
	defer cancel()
	cmd := h.Command(ctx, argv...)
	cmd.Args = append([]string{"nsenter", "--net=/run/netns/" + h.Name}, argv...)
	cmd.Path, cmd.Err = "", nil
	if path, err := exec.LookPath("nsenter"); err == nil {
		cmd.Path = path
	} else {
		return Result{}, err
	}
	return h.run(cmd, argv)
}

// run runs cmd, which runs argv in h, and reads its outcome.
func (h *Host) run(cmd *exec.Cmd, argv []string) (Result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	var exit *exec.ExitError
	if errors.As(err, &exit) && res.Code >= 0 {
		err = nil
	}
	if err != nil {
		return res, fmt.Errorf("%s: %s: %w (stderr: %s)", h.Name, strings.Join(argv, " "), err, res.Stderr)
	}
	return res, nil
}

// Command is the command that Run runs: argv in h through `ip netns exec` (which execs
// argv in place, so the process is argv's), without SSH_CONNECTION and SSH_CLIENT in its
// environment. Stdin, stdout and stderr are the caller's to set (a pseudo-terminal, for
// a test of tcpreap's prompt); ctx kills the process.
func (h *Host) Command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name}, argv...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_CONNECTION=") && !strings.HasPrefix(kv, "SSH_CLIENT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// Record is one socket object of tcpreap's --json output.
type Record struct {
	Proto      string     `json:"proto"`
	Family     string     `json:"family"`
	State      string     `json:"state"`
	LocalIP    netip.Addr `json:"local_ip"`
	LocalPort  uint16     `json:"local_port"`
	RemoteIP   netip.Addr `json:"remote_ip"`
	RemotePort uint16     `json:"remote_port"`
	Cookie     uint64     `json:"cookie"`
	Inode      uint64     `json:"inode"`
	UID        uint32     `json:"uid"`
	RecvQ      uint32     `json:"recv_q"`
	SendQ      uint32     `json:"send_q"`
	// Processes is list -p's: the processes that hold the socket.
	Processes []Process `json:"processes"`
	// IdleMS is list -e's: how long the connection has been idle.
	IdleMS int64 `json:"idle_ms"`
	// NetNS is --netns's and --all-netns's: the namespace the socket is in.
	NetNS  string `json:"netns"`
	Action string `json:"action"`
	Engine string `json:"engine"` // the engine that acted
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Process is one process that holds a socket, in list -p's --json output.
type Process struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	FD      int    `json:"fd"`
}

// Local is the socket's local end.
func (r Record) Local() netip.AddrPort { return netip.AddrPortFrom(r.LocalIP, r.LocalPort) }

// Remote is the socket's remote end.
func (r Record) Remote() netip.AddrPort { return netip.AddrPortFrom(r.RemoteIP, r.RemotePort) }

// Summary is the last object of tcpreap's --json output.
type Summary struct {
	Matched int `json:"matched"`
	Killed  int `json:"killed"`
	Gone    int `json:"gone"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Pending is there only when some destroys may still happen.
	Pending int  `json:"pending"`
	DryRun  bool `json:"dry_run"`
	// Pace and TookMS are a paced run's (--rate, --spread).
	Pace   string `json:"pace"`
	TookMS int64  `json:"took_ms"`
}

// Report is a whole --json output.
type Report struct {
	Sockets []Record
	Summary Summary
}

// Cookies returns the cookies of the sockets whose action is action.
func (r Report) Cookies(action string) []uint64 {
	var cs []uint64
	for _, s := range r.Sockets {
		if s.Action == action {
			cs = append(cs, s.Cookie)
		}
	}
	return cs
}

// The keys DESIGN.md promises in every object; decoding checks that each is there, since a
// missing key would otherwise read as a zero value and pass for one.
var (
	recordKeys  = []string{"proto", "family", "state", "local_ip", "local_port", "remote_ip", "remote_port", "cookie", "inode", "uid", "action"}
	summaryKeys = []string{"matched", "killed", "gone", "failed", "skipped", "dry_run"}
)

// ParseReport decodes tcpreap's NDJSON: one socket object per line, then exactly one
// {"summary":{…}} line, last.
func ParseReport(out string) (Report, error) {
	var r Report
	summaries := 0
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == "" {
			return r, fmt.Errorf("empty line in NDJSON output")
		}
		if summaries > 0 {
			return r, fmt.Errorf("line after the summary: %q", line)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return r, fmt.Errorf("not a JSON object: %q: %w", line, err)
		}
		if raw, ok := obj["summary"]; ok {
			summaries++
			if err := decodeStrict(raw, summaryKeys, &r.Summary); err != nil {
				return r, fmt.Errorf("summary %q: %w", line, err)
			}
			continue
		}
		var rec Record
		if err := decodeStrict([]byte(line), recordKeys, &rec); err != nil {
			return r, fmt.Errorf("socket %q: %w", line, err)
		}
		r.Sockets = append(r.Sockets, rec)
	}
	if summaries == 0 {
		return r, errors.New("no summary line in NDJSON output")
	}
	return r, nil
}

func decodeStrict(raw []byte, keys []string, v any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("missing key %q", k)
		}
	}
	return json.Unmarshal(raw, v)
}
