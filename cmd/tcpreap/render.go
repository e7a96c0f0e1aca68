package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// A renderer prints results as an ss-like table or as NDJSON (--json).
type renderer struct {
	w     io.Writer
	json  bool
	quiet bool
	// ifName names an interface by its index, for the scope of a socket
	// bound to one; nil: as spaces does.
	ifName func(uint32) string
	// spaces says which network namespace each result is in (--netns,
	// --all-netns): the JSON has it as netns, and the table as a NetNS
	// column when there are several; nil for tcpreap's own.
	spaces *spaceIndex
	// owners, when not nil (list -p), are the processes that hold each
	// socket, by inode: the table shows them with the queues, and the
	// JSON has them as processes.
	owners map[uint32][]host.Owner
	// infos, when not nil (list -e), are what struct tcp_info says of each
	// socket, by cookie: the table shows Idle and RTT, the JSON idle_ms,
	// retransmits, backoff, unacked and rtt_us (for the sockets that have
	// one: not UDP, not TIME_WAIT). With them, every socket's timer shows:
	// the Timer column, the JSON's timer and timer_ms.
	infos map[sockdiag.Cookie]sockdiag.TCPInfo
	// extended (list -e) adds RTT and Timer to the table's Idle, and the
	// timer to the JSON; without it infos give the Idle column alone (a
	// list --idle or --stalled).
	extended bool
}

// socketJSON is one socket in --json output; the fields are a contract.
type socketJSON struct {
	Proto      string `json:"proto"`
	Family     string `json:"family"`
	State      string `json:"state"`
	LocalIP    string `json:"local_ip"`
	LocalPort  uint16 `json:"local_port"`
	RemoteIP   string `json:"remote_ip"`
	RemotePort uint16 `json:"remote_port"`
	Interface  uint32 `json:"interface"`
	Cookie     uint64 `json:"cookie"`
	Inode      uint32 `json:"inode"`
	UID        uint32 `json:"uid"`
	RecvQ      uint32 `json:"recv_q"`
	SendQ      uint32 `json:"send_q"`
	// Processes: with list -p, those that hold the socket; [] for one no
	// process holds (TIME_WAIT, orphaned) or none that could be read.
	Processes *[]processJSON `json:"processes,omitempty"`
	// IdleMS to RTTMicros: with list -e, what struct tcp_info says, for the
	// sockets that have one (not UDP, not TIME_WAIT).
	IdleMS      *int64  `json:"idle_ms,omitempty"`
	Retransmits *uint8  `json:"retransmits,omitempty"`
	Backoff     *uint8  `json:"backoff,omitempty"`
	Unacked     *uint32 `json:"unacked,omitempty"`
	RTTMicros   *int64  `json:"rtt_us,omitempty"`
	// Timer and TimerMS: with list -e, the socket's timer (idiag_timer, as
	// ss names it) and when it fires (idiag_expires).
	Timer   string  `json:"timer,omitempty"`
	TimerMS *uint32 `json:"timer_ms,omitempty"`
	NetNS   string  `json:"netns,omitempty"`
	Action  string  `json:"action"`
	Reason  string  `json:"reason,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// processJSON is one process that holds a socket.
type processJSON struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	FD      int    `json:"fd"`
}

// summaryJSON is the last object of --json output.
type summaryJSON struct {
	Matched   int  `json:"matched"`
	WouldKill int  `json:"would_kill"`
	Killed    int  `json:"killed"`
	Gone      int  `json:"gone"`
	Failed    int  `json:"failed"`
	Skipped   int  `json:"skipped"`
	DryRun    bool `json:"dry_run"`
}

func (r renderer) report(results []kill.Result, dryRun bool) error {
	sum := inet.Summarize(results)
	if r.json {
		// One write per 64 KiB, not per socket: a list of 190,000 sockets
		// is 190,000 lines.
		bw := bufio.NewWriterSize(r.w, 64<<10)
		if !r.quiet {
			var line []byte
			for i, res := range results {
				line = r.appendSocketJSON(line[:0], i, res)
				if _, err := bw.Write(line); err != nil {
					return err
				}
			}
		}
		if err := json.NewEncoder(bw).Encode(map[string]summaryJSON{"summary": {Matched: sum.Matched, WouldKill: sum.WouldKill,
			Killed: sum.Killed, Gone: sum.Gone, Failed: sum.Failed, Skipped: sum.Skipped, DryRun: dryRun}}); err != nil {
			return err
		}
		return bw.Flush()
	}
	if !r.quiet && len(results) > 0 {
		if err := r.table(results); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(r.w, summaryLine(sum, dryRun))
	return err
}

// table writes the results as ss-like columns, two spaces apart, as
// text/tabwriter would, but in two passes over the results (the widths, then
// the rows) instead of holding every cell: a listing of 190,000 sockets is a
// table of 190,000 rows.
func (r renderer) table(results []kill.Result) error {
	ifName := func(i int, index uint32) string {
		if r.ifName != nil {
			return r.ifName(index)
		}
		return r.spaces.ifName(i, index)
	}
	header := []string{"Proto", "State", "Local Address:Port", "Peer Address:Port", "Result"}
	if r.owners != nil {
		header = []string{"Proto", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Result", "Process"}
	}
	column := r.spaces != nil && r.spaces.column
	if column {
		header = append([]string{"NetNS"}, header...)
	}
	switch {
	case r.infos != nil && r.extended:
		header = append(header, "Idle", "RTT", "Timer")
	case r.infos != nil:
		header = append(header, "Idle")
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	var buf []byte
	ends := make([]int, 0, len(header)) // where each cell of a row ends in buf
	row := func(i int, res kill.Result) {
		s := res.Socket
		buf, ends = buf[:0], ends[:0]
		cell := func() { ends = append(ends, len(buf)) }
		if column {
			buf = append(buf, printable(r.spaces.label(i))...)
			cell()
		}
		buf = append(buf, s.Protocol.String()...)
		cell()
		buf = append(buf, s.State.Label()...)
		cell()
		if r.owners != nil {
			buf = strconv.AppendUint(buf, uint64(s.RecvQ), 10)
			cell()
			buf = strconv.AppendUint(buf, uint64(s.SendQ), 10)
			cell()
		}
		scope := ""
		if s.ID.Interface != 0 {
			scope = ifName(i, s.ID.Interface)
		}
		buf = appendEndpoint(buf, s.ID.Local, printable(scope))
		cell()
		buf = appendEndpoint(buf, s.ID.Remote, "")
		cell()
		buf = append(buf, printable(resultText(res))...)
		cell()
		if r.owners != nil {
			buf = appendUsers(buf, s, r.owners[s.Inode])
			cell()
		}
		if r.infos != nil {
			info, ok := r.infos[s.ID.Cookie]
			values := []string{info.Idle().Round(time.Second).String()}
			if r.extended {
				values = append(values, info.RTT.Round(10*time.Microsecond).String())
			}
			for _, v := range values {
				if !ok {
					v = "-"
				}
				buf = append(buf, v...)
				cell()
			}
			if r.extended {
				buf = appendTimer(buf, s)
				cell()
			}
		}
	}
	shown := func(res kill.Result) bool {
		// Not one line each for the targets not sent: the reason is said
		// once, and the summary counts them (--json still lists them).
		return !errors.Is(res.Err, sockdiag.ErrNotAttempted)
	}
	for i, res := range results {
		if !shown(res) {
			continue
		}
		row(i, res)
		start := 0
		for i, end := range ends {
			widths[i] = max(widths[i], displayWidth(buf[start:end]))
			start = end
		}
	}
	bw := bufio.NewWriterSize(r.w, 64<<10)
	line := make([]byte, 0, 256)
	write := func(cells func(i int) []byte) error {
		line = line[:0]
		for i := range widths {
			c := cells(i)
			line = append(line, c...)
			if i < len(widths)-1 {
				for range widths[i] - displayWidth(c) + 2 {
					line = append(line, ' ')
				}
			}
		}
		_, err := bw.Write(append(line, '\n'))
		return err
	}
	if err := write(func(i int) []byte { return []byte(header[i]) }); err != nil {
		return err
	}
	for i, res := range results {
		if !shown(res) {
			continue
		}
		row(i, res)
		if err := write(func(i int) []byte {
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			return buf[start:ends[i]]
		}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendTimer appends the Timer column of list -e: the socket's timer as
// ss's timer:(keepalive,1min52sec,0) shows it, name, when it fires and how
// often it fired (keepalive,1m52s,0); "off" when none runs.
func appendTimer(b []byte, s *sockdiag.Socket) []byte {
	b = append(b, s.TimerName()...)
	if s.Timer == 0 {
		return b
	}
	b = append(b, ',')
	if d := time.Duration(s.Expires) * time.Millisecond; d < time.Second {
		b = append(b, d.String()...)
	} else {
		b = append(b, d.Round(time.Second).String()...)
	}
	b = append(b, ',')
	return strconv.AppendUint(b, uint64(s.Retrans), 10)
}

// usersText is the Process column: the holders as ss -p shows them,
// users:(("redis-server",pid=812,fd=9)); "-" for a socket no process holds
// (TIME_WAIT, orphaned), "?" for one whose holders could not be read.
func usersText(s *sockdiag.Socket, owners []host.Owner) string {
	return string(appendUsers(nil, s, owners))
}

// appendUsers appends usersText(s, owners) to b, the commands printable.
func appendUsers(b []byte, s *sockdiag.Socket, owners []host.Owner) []byte {
	if s.Inode == 0 {
		return append(b, '-')
	}
	if len(owners) == 0 {
		return append(b, '?')
	}
	b = append(b, "users:("...)
	for i, o := range owners {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `("`...)
		b = append(b, printable(o.Command)...)
		b = append(b, `",pid=`...)
		b = strconv.AppendInt(b, int64(o.PID), 10)
		b = append(b, ",fd="...)
		b = strconv.AppendInt(b, int64(o.FD), 10)
		b = append(b, ')')
	}
	return append(b, ')')
}

// appendSocketJSON appends the --json line of one socket: what encoding/json
// writes for r.toJSON(res), byte for byte, without its reflection (a test
// holds the two together).
func (r renderer) appendSocketJSON(b []byte, i int, res kill.Result) []byte {
	s := res.Socket
	b = append(b, `{"proto":"`...)
	b = append(b, s.Protocol.String()...)
	b = append(b, `","family":"`...)
	b = append(b, s.Family.String()...)
	b = append(b, `","state":"`...)
	b = append(b, s.State.String()...)
	b = append(b, `","local_ip":"`...)
	b = s.ID.Local.Addr().AppendTo(b)
	b = append(b, `","local_port":`...)
	b = strconv.AppendUint(b, uint64(s.ID.Local.Port()), 10)
	b = append(b, `,"remote_ip":"`...)
	b = s.ID.Remote.Addr().AppendTo(b)
	b = append(b, `","remote_port":`...)
	b = strconv.AppendUint(b, uint64(s.ID.Remote.Port()), 10)
	b = append(b, `,"interface":`...)
	b = strconv.AppendUint(b, uint64(s.ID.Interface), 10)
	b = append(b, `,"cookie":`...)
	b = strconv.AppendUint(b, uint64(s.ID.Cookie), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, uint64(s.Inode), 10)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"recv_q":`...)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	if r.owners != nil {
		var owners []host.Owner
		if s.Inode != 0 {
			owners = r.owners[s.Inode]
		}
		b = append(b, `,"processes":[`...)
		for i, o := range owners {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"pid":`...)
			b = strconv.AppendInt(b, int64(o.PID), 10)
			b = appendJSONField(b, "command", o.Command)
			b = append(b, `,"fd":`...)
			b = strconv.AppendInt(b, int64(o.FD), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if info, ok := r.infos[s.ID.Cookie]; ok {
		b = append(b, `,"idle_ms":`...)
		b = strconv.AppendInt(b, info.Idle().Milliseconds(), 10)
		b = append(b, `,"retransmits":`...)
		b = strconv.AppendUint(b, uint64(info.Retransmits), 10)
		b = append(b, `,"backoff":`...)
		b = strconv.AppendUint(b, uint64(info.Backoff), 10)
		b = append(b, `,"unacked":`...)
		b = strconv.AppendUint(b, uint64(info.Unacked), 10)
		b = append(b, `,"rtt_us":`...)
		b = strconv.AppendInt(b, info.RTT.Microseconds(), 10)
	}
	if r.infos != nil {
		b = append(b, `,"timer":"`...)
		b = append(b, s.TimerName()...)
		b = append(b, `","timer_ms":`...)
		b = strconv.AppendUint(b, uint64(s.Expires), 10)
	}
	if r.spaces != nil {
		b = appendJSONField(b, "netns", r.spaces.label(i))
	}
	b = append(b, `,"action":"`...)
	b = append(b, res.Action.String()...)
	b = append(b, '"')
	if res.Action == inet.Skipped {
		b = appendJSONField(b, "reason", reasonText(res))
	}
	if res.Err != nil {
		b = appendJSONField(b, "error", errorWords(res.Err))
	}
	return append(b, "}\n"...)
}

// appendJSONField appends ,"key":"value", the value escaped as
// encoding/json escapes it.
func appendJSONField(b []byte, key, value string) []byte {
	v, _ := json.Marshal(value) // a string always marshals
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return append(b, v...)
}

func (r renderer) toJSON(i int, res kill.Result) socketJSON {
	s := res.Socket
	j := socketJSON{
		Proto:      s.Protocol.String(),
		Family:     s.Family.String(),
		State:      s.State.String(),
		LocalIP:    s.ID.Local.Addr().String(),
		LocalPort:  s.ID.Local.Port(),
		RemoteIP:   s.ID.Remote.Addr().String(),
		RemotePort: s.ID.Remote.Port(),
		Interface:  s.ID.Interface,
		Cookie:     uint64(s.ID.Cookie),
		Inode:      s.Inode,
		UID:        s.UID,
		RecvQ:      s.RecvQ,
		SendQ:      s.SendQ,
		Action:     res.Action.String(),
	}
	if info, ok := r.infos[s.ID.Cookie]; ok {
		idle, rtt := info.Idle().Milliseconds(), info.RTT.Microseconds()
		j.IdleMS, j.Retransmits, j.Backoff, j.Unacked, j.RTTMicros = &idle, &info.Retransmits, &info.Backoff, &info.Unacked, &rtt
	}
	if r.infos != nil {
		j.Timer, j.TimerMS = s.TimerName(), &s.Expires
	}
	if r.owners != nil {
		procs := []processJSON{}
		if s.Inode != 0 {
			for _, o := range r.owners[s.Inode] {
				procs = append(procs, processJSON{PID: o.PID, Command: o.Command, FD: o.FD})
			}
		}
		j.Processes = &procs
	}
	if r.spaces != nil {
		j.NetNS = r.spaces.label(i)
	}
	if res.Action == inet.Skipped {
		j.Reason = reasonText(res)
	}
	if res.Err != nil {
		j.Error = errorWords(res.Err)
	}
	return j
}

// reasonText is why a socket was skipped, as the command line says it:
// naming the option that lifts a guard, where one does.
func reasonText(res kill.Result) string {
	switch res.Reason {
	case kill.ReasonListen:
		return "LISTEN sockets are only destroyed when --state names listen"
	case kill.ReasonSSHServer:
		return res.Reason.String() + "; --include-self destroys it"
	case kill.ReasonSSHUnsure:
		return res.Reason.String() + " (run tcpreap with CAP_SYS_PTRACE, as root has it); --include-self destroys it"
	case kill.ReasonChanged:
		if s := res.Socket; s.State == sockdiag.Established || s.State == sockdiag.SynSent {
			return "changed since the plan: now connected to " + endpoint(s.ID.Remote, "")
		}
		return "changed since the plan: now " + res.Socket.State.Label()
	}
	return res.Reason.String()
}

// errorWords says what became of a socket that failed: the error without
// the request it was about; for the kernel's plain refusals (EPERM,
// EOPNOTSUPP, …) the errno in words, which the sentence said once explains.
func errorWords(err error) string {
	if oe, ok := err.(*sockdiag.OpError); ok {
		err = oe.Err
	}
	var c *sockdiag.Cause
	var errno unix.Errno
	if errors.As(err, &errno) && !(errors.As(err, &c) && c.Explain() != c.Error()) {
		return errno.Error()
	}
	return err.Error()
}

func resultText(res kill.Result) string {
	switch res.Action {
	case inet.WouldKill:
		return "match"
	case inet.Skipped:
		return "skipped: " + reasonText(res)
	case inet.Failed:
		return "failed: " + errorWords(res.Err)
	}
	return res.Action.String()
}

// endpoint prints an address and port as ss does: IPv6 in brackets, the
// interface a socket is scoped to after a "%", "*" for port 0.
func endpoint(ap netip.AddrPort, scope string) string {
	return string(appendEndpoint(nil, ap, scope))
}

// appendEndpoint appends endpoint(ap, scope) to b.
func appendEndpoint(b []byte, ap netip.AddrPort, scope string) []byte {
	if ap.Addr().Is6() {
		b = append(b, '[')
		b = ap.Addr().AppendTo(b)
		b = append(b, ']')
	} else {
		b = ap.Addr().AppendTo(b)
	}
	if scope != "" {
		b = append(b, '%')
		b = append(b, scope...)
	}
	b = append(b, ':')
	if ap.Port() == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

func summaryLine(s inet.Summary, dryRun bool) string {
	if dryRun {
		return fmt.Sprintf("%s matched: %d would be destroyed, %d skipped (dry run: nothing was destroyed)",
			plural(s.Matched, "socket"), s.WouldKill, s.Skipped)
	}
	return fmt.Sprintf("%s matched: %d killed, %d gone, %d failed, %d skipped",
		plural(s.Matched, "socket"), s.Killed, s.Gone, s.Failed, s.Skipped)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
