package render

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// Sockets prints a report of sockets as an ss-like table or as NDJSON.
type Sockets struct {
	W     io.Writer
	JSON  bool // NDJSON: one object per socket, then the summary
	Quiet bool // only the summary
	// Extended (list -e) adds RTT and Timer to the table's Idle, and the
	// timer to the JSON; without it a report's Infos give the Idle column
	// alone (a list --idle or --stalled).
	Extended bool
	// Refused, when not "", is why a guard refused the plan shown (a dry
	// run over --max): the JSON summary says it.
	Refused string
}

// A detail is what a report tells of its sockets besides their results,
// which each socket's --json line shows: owners (list -p), the processes
// that hold each socket, by inode, as processes; infos (list -e), what
// struct tcp_info says of each socket, by cookie, as idle_ms, retransmits,
// backoff, unacked and rtt_us (for the sockets that have one: not UDP, not
// TIME_WAIT), and with them every socket's timer and timer_ms; labelled,
// the socket's namespace as netns (--netns, --all-netns).
type detail struct {
	owners   map[uint32][]host.Owner
	infos    map[sockdiag.Cookie]sockdiag.TCPInfo
	labelled bool
}

// summaryJSON is the last object of --json output.
type summaryJSON struct {
	Matched   int `json:"matched"`
	WouldKill int `json:"would_kill"`
	Killed    int `json:"killed"`
	Gone      int `json:"gone"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Pending: destroys sent and not answered in time, which the kernel
	// may still carry out; present when there are some.
	Pending int  `json:"pending,omitempty"`
	DryRun  bool `json:"dry_run"`
	// Refused says why a guard refused the plan (--max, the confirmation):
	// nothing was destroyed.
	Refused string `json:"refused,omitempty"`
	// Pace is a paced run's (--rate, --spread), and TookMS how long it
	// took, in milliseconds.
	Pace   string `json:"pace,omitempty"`
	TookMS int64  `json:"took_ms,omitempty"`
}

// summaryOf is the summary object of sum.
func summaryOf(sum inet.Summary, dryRun bool, refused string) map[string]summaryJSON {
	return map[string]summaryJSON{"summary": {Matched: sum.Matched, WouldKill: sum.WouldKill,
		Killed: sum.Killed, Gone: sum.Gone, Failed: sum.Failed, Skipped: sum.Skipped, Pending: sum.Pending, DryRun: dryRun, Refused: refused}}
}

// Refused prints the summary object of a plan a guard refused, with why,
// for --json: the targets would have been destroyed, none was.
func Refused(w io.Writer, sum inet.Summary, dryRun bool, why string) error {
	return json.NewEncoder(w).Encode(summaryOf(sum, dryRun, why))
}

// Report prints what a run did, or would do, to every socket it matched,
// then the summary.
func (r Sockets) Report(rep *reap.Report) error {
	sum, dryRun := rep.Summary(), rep.DryRun
	if r.JSON {
		// One write per 64 KiB, not per socket: a list of 190,000 sockets
		// is 190,000 lines.
		bw := bufio.NewWriterSize(r.W, 64<<10)
		if !r.Quiet {
			d := detail{owners: rep.Owners, infos: rep.Infos, labelled: rep.Labelled()}
			var line []byte
			for g := range rep.Groups() {
				for _, res := range g.Results {
					line = d.appendSocketJSON(line[:0], g, res)
					if _, err := bw.Write(line); err != nil {
						return err
					}
				}
			}
		}
		obj := summaryOf(sum, dryRun, r.Refused)
		if rep.Pace.Paced() {
			s := obj["summary"]
			s.Pace, s.TookMS = rep.Pace.String(), rep.Took.Milliseconds()
			obj["summary"] = s
		}
		if err := json.NewEncoder(bw).Encode(obj); err != nil {
			return err
		}
		return bw.Flush()
	}
	if !r.Quiet && sum.Matched > 0 {
		if err := r.table(rep); err != nil {
			return err
		}
	}
	line := summaryLine(sum, dryRun)
	if engines := rep.Engines(); len(engines) > 1 || len(engines) == 1 && engines[0] != "diag" {
		// SOCK_DESTROY alone is what tcpreap always did, and goes unsaid.
		line += "; by the " + strings.Join(engines, " and ") + " engine"
		if len(engines) > 1 {
			line += "s"
		}
	}
	if rep.Pace.Paced() {
		line += fmt.Sprintf("; paced %s, in %s", PacePhrase(rep.Pace), rep.Took.Round(100*time.Millisecond))
	}
	_, err := fmt.Fprintln(r.W, line)
	return err
}

// A column is one column of the table: its header, and cell, which appends
// what it shows of one result of a group.
type column struct {
	header string
	cell   func(b []byte, g *reap.Group, res kill.Result) []byte
}

// columns are the table's, chosen once from what the report has: NetNS
// when it names its namespaces (--netns, --all-netns, a plan file made
// there); the queues and Process (the holders) with its owners (list -p);
// Idle with its tcp_info, and RTT and Timer with it when Extended (list
// -e). A row of list -p fits 120 columns, one of list -e 100.
func (r Sockets) columns(rep *reap.Report) []column {
	var cols []column
	if rep.Labelled() {
		cols = append(cols, column{"NetNS", func(b []byte, g *reap.Group, _ kill.Result) []byte {
			return append(b, Printable(g.NetNS)...)
		}})
	}
	cols = append(cols, column{"Proto", func(b []byte, _ *reap.Group, res kill.Result) []byte {
		return append(b, res.Socket.Protocol.String()...)
	}}, column{"State", func(b []byte, _ *reap.Group, res kill.Result) []byte {
		return append(b, res.Socket.State.Label()...)
	}})
	if rep.Owners != nil {
		cols = append(cols, column{"Recv-Q", func(b []byte, _ *reap.Group, res kill.Result) []byte {
			return strconv.AppendUint(b, uint64(res.Socket.RecvQ), 10)
		}}, column{"Send-Q", func(b []byte, _ *reap.Group, res kill.Result) []byte {
			return strconv.AppendUint(b, uint64(res.Socket.SendQ), 10)
		}})
	}
	cols = append(cols, column{"Local Address:Port", func(b []byte, g *reap.Group, res kill.Result) []byte {
		scope := ""
		if i := res.Socket.ID.Interface; i != 0 {
			// An interface that went away is its index, as ss shows it.
			if scope = g.InterfaceName(i); scope == "" {
				scope = strconv.FormatUint(uint64(i), 10)
			}
		}
		return appendEndpoint(b, res.Socket.ID.Local, Printable(scope))
	}}, column{"Peer Address:Port", func(b []byte, _ *reap.Group, res kill.Result) []byte {
		return appendEndpoint(b, res.Socket.ID.Remote, "")
	}}, column{"Result", func(b []byte, _ *reap.Group, res kill.Result) []byte {
		return append(b, Printable(resultWords(res, socketVerb, rep.DryRun))...)
	}})
	if rep.Owners != nil {
		cols = append(cols, column{"Process", func(b []byte, _ *reap.Group, res kill.Result) []byte {
			return appendUsers(b, res.Socket, rep.Owners[res.Socket.Inode])
		}})
	}
	if rep.Infos == nil {
		return cols
	}
	// What tcp_info says, "-" for a socket that has none (UDP, TIME_WAIT).
	info := func(value func(sockdiag.TCPInfo) string) func([]byte, *reap.Group, kill.Result) []byte {
		return func(b []byte, _ *reap.Group, res kill.Result) []byte {
			i, ok := rep.Infos[res.Socket.ID.Cookie]
			if !ok {
				return append(b, '-')
			}
			return append(b, value(i)...)
		}
	}
	cols = append(cols, column{"Idle", info(func(i sockdiag.TCPInfo) string {
		return i.Idle().Round(time.Second).String()
	})})
	if r.Extended {
		cols = append(cols, column{"RTT", info(func(i sockdiag.TCPInfo) string {
			return i.RTT.Round(10 * time.Microsecond).String()
		})}, column{"Timer", func(b []byte, _ *reap.Group, res kill.Result) []byte {
			return appendTimer(b, res.Socket)
		}})
	}
	return cols
}

// table writes the results as ss-like columns, two spaces apart, as
// text/tabwriter would, but in two passes over the results (the widths, then
// the rows) instead of holding every cell: a listing of 190,000 sockets is a
// table of 190,000 rows.
func (r Sockets) table(rep *reap.Report) error {
	cols := r.columns(rep)
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = len(c.header)
	}
	var buf []byte
	ends := make([]int, 0, len(cols)) // where each cell of a row ends in buf
	row := func(g *reap.Group, res kill.Result) {
		buf, ends = buf[:0], ends[:0]
		for _, c := range cols {
			buf = c.cell(buf, g, res)
			ends = append(ends, len(buf))
		}
	}
	shown := func(res kill.Result) bool {
		// Not one line each for the targets not sent: the reason is said
		// once, and the summary counts them (--json still lists them).
		return !errors.Is(res.Err, sockdiag.ErrNotAttempted)
	}
	for g := range rep.Groups() {
		for _, res := range g.Results {
			if !shown(res) {
				continue
			}
			row(g, res)
			start := 0
			for i, end := range ends {
				widths[i] = max(widths[i], displayWidth(buf[start:end]))
				start = end
			}
		}
	}
	bw := bufio.NewWriterSize(r.W, 64<<10)
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
	if err := write(func(i int) []byte { return []byte(cols[i].header) }); err != nil {
		return err
	}
	var reasons []kill.Reason // said once each below the table
	for g := range rep.Groups() {
		for _, res := range g.Results {
			if !shown(res) {
				continue
			}
			if res.Action == inet.Skipped && !slices.Contains(reasons, res.Reason) {
				reasons = append(reasons, res.Reason)
			}
			row(g, res)
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
	}
	for _, why := range reasons {
		// Within the 100 columns of the tables, the lines after the first
		// under the sentence.
		lines := clidoc.Wrap(why.Code()+": "+reasonSentence(why), reportWidth)
		if _, err := fmt.Fprintf(bw, "%s\n", strings.Join(lines, "\n  ")); err != nil {
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

// usersText is the Process column: the holders as the doctor names
// them, command[pid], the pids of one command together
// (redis-server[812,813]); "-" for a socket no process holds
// (TIME_WAIT, orphaned), "?" for one whose holders could not be read. The
// descriptors are in the --json processes: a row of list -p fits 120
// columns.
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
	for i, o := range owners {
		if slices.ContainsFunc(owners[:i], func(p host.Owner) bool { return p.Command == o.Command }) {
			continue // said with the first of its command
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, Printable(o.Command)...)
		b = append(b, '[')
		var pids []int
		for _, p := range owners[i:] {
			if p.Command == o.Command && !slices.Contains(pids, p.PID) {
				if len(pids) > 0 {
					b = append(b, ',')
				}
				pids = append(pids, p.PID)
				b = strconv.AppendInt(b, int64(p.PID), 10)
			}
		}
		b = append(b, ']')
	}
	return b
}

// appendSocketJSON appends the --json line of one socket: what encoding/json
// writes for the contract's struct (socketJSON, in the tests), byte for
// byte, without its reflection (a test holds the two together).
func (d detail) appendSocketJSON(b []byte, g *reap.Group, res kill.Result) []byte {
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
	b = appendJSONField(b, "interface_name", interfaceName(g, s.ID.Interface))
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
	if d.owners != nil {
		var owners []host.Owner
		if s.Inode != 0 {
			owners = d.owners[s.Inode]
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
	if info, ok := d.infos[s.ID.Cookie]; ok {
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
	if d.infos != nil {
		b = append(b, `,"timer":"`...)
		b = append(b, s.TimerName()...)
		b = append(b, `","timer_ms":`...)
		b = strconv.AppendUint(b, uint64(s.Expires), 10)
	}
	if d.labelled {
		b = appendJSONField(b, "netns", g.NetNS)
	}
	b = append(b, `,"action":"`...)
	b = append(b, res.Action.String()...)
	b = append(b, '"')
	if res.Engine != "" {
		b = appendJSONField(b, "engine", res.Engine)
	}
	if res.Action == inet.Skipped {
		b = appendJSONField(b, "reason_code", res.Reason.Code())
		b = appendJSONField(b, "reason", reasonText(res))
	}
	if res.Err != nil {
		b = appendJSONField(b, "error", ErrorWords(res.Err))
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

// interfaceName names interface index of the group's namespace; "" for 0,
// a socket bound to none, and for an interface that went away.
func interfaceName(g *reap.Group, index uint32) string {
	if index == 0 {
		return ""
	}
	return g.InterfaceName(index)
}

// reasonText is why a socket was skipped, as the command line says it
// (the --json reason): reasonSentence, and what the socket became when it
// changed since the plan.
func reasonText(res kill.Result) string {
	if res.Reason == kill.ReasonChanged {
		if s := res.Socket; s.State == sockdiag.Established || s.State == sockdiag.SynSent {
			return "changed since the plan: now connected to " + endpoint(s.ID.Remote, "")
		}
		return "changed since the plan: now " + res.Socket.State.Label()
	}
	return reasonSentence(res.Reason)
}

// reasonSentence is why sockets were skipped for a reason, naming the
// option that lifts a guard, where one does: said once below the table,
// whose rows name the reason by its code.
func reasonSentence(r kill.Reason) string {
	switch r {
	case kill.ReasonListen:
		return "LISTEN sockets are only destroyed when --state names listen"
	case kill.ReasonSSHServer, kill.ReasonSSHHidden:
		return r.String() + "; --include-self destroys it"
	case kill.ReasonSSHUnsure:
		return r.String() + " (run tcpreap with CAP_SYS_PTRACE, as root has it); --include-self destroys it"
	case kill.ReasonChanged:
		return "changed since the plan into another kind of socket; its row shows what it is now"
	}
	return r.String()
}

// Explain is the sentence said once for the targets whose answer is err
// (sockdiag.Explain), and the --engine that may destroy them where the
// engine that answered cannot (reap.OtherEngine).
func Explain(err error) (string, bool) {
	why, ok := sockdiag.Explain(err)
	if other := reap.OtherEngine(err); ok && other != "" {
		why += " (--engine " + other + ")"
	}
	return why, ok
}

// ErrorWords says what became of a socket that failed: the error without
// the request it was about; for the kernel's plain refusals (EPERM,
// EOPNOTSUPP, …) the errno in words, which the sentence said once explains.
func ErrorWords(err error) string {
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

// A verb is what a kind of target undergoes, in the words a person reads:
// a plan's (a dry run's, as a plan file says it), and what was done (the
// JSON's action codes are the same for every kind).
type verb struct{ plan, done string }

var (
	socketVerb = verb{"destroy", "destroyed"}
	flowVerb   = verb{"delete", "deleted"}
)

// resultWords is the Result column: what would become of a target (a dry
// run: destroy, or skip), or what became of it (destroyed, gone, failed,
// skipped); a skip by its reason's code (the sentence is said once below
// the table), a failure with its error.
func resultWords(res kill.Result, v verb, dryRun bool) string {
	switch res.Action {
	case inet.WouldKill:
		return v.plan
	case inet.Killed:
		return v.done
	case inet.Skipped:
		if dryRun {
			return "skip: " + res.Reason.Code()
		}
		return "skipped: " + res.Reason.Code()
	case inet.Failed:
		return "failed: " + ErrorWords(res.Err)
	case inet.Pending:
		return "pending: " + ErrorWords(res.Err)
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
		gone := "" // a plan file's sockets closed since it was made
		if s.Gone > 0 {
			gone = fmt.Sprintf(", %d gone", s.Gone)
		}
		return fmt.Sprintf("%s matched: %d would be destroyed%s, %d skipped (dry run: nothing was destroyed)",
			Plural(s.Matched, "socket"), s.WouldKill, gone, s.Skipped)
	}
	line := fmt.Sprintf("%s matched: %d destroyed, %d gone, %d failed, %d skipped",
		Plural(s.Matched, "socket"), s.Killed, s.Gone, s.Failed, s.Skipped)
	if s.Pending > 0 {
		line += fmt.Sprintf("; %d pending: may still be destroyed", s.Pending)
	}
	return line
}

// PacePhrase says a pace after a verb: "at 100/s", "over 10m0s"; "" for
// none.
func PacePhrase(p kill.Pace) string {
	switch {
	case p.Rate.N > 0:
		return "at " + p.String()
	case p.Spread > 0:
		return "over " + p.String()
	}
	return ""
}

// Plural is n of word: "1 socket", "2 sockets".
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
