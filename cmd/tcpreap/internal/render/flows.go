package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
)

// Flows prints conntrack results as two lines per entry or as NDJSON.
type Flows struct {
	W       io.Writer
	JSON    bool   // NDJSON: one object per entry, then the summary
	Quiet   bool   // only the summary
	Refused string // why a guard refused the plan shown, for the JSON summary
}

// flowJSON is one conntrack entry in --json output; the fields are a
// contract.
type flowJSON struct {
	Proto        string   `json:"proto"`
	Family       string   `json:"family"`
	State        string   `json:"state,omitempty"` // TCP only: conntrack's state
	OrigSrcIP    string   `json:"orig_src_ip"`
	OrigSrcPort  uint16   `json:"orig_src_port"`
	OrigDstIP    string   `json:"orig_dst_ip"`
	OrigDstPort  uint16   `json:"orig_dst_port"`
	ReplySrcIP   string   `json:"reply_src_ip"`
	ReplySrcPort uint16   `json:"reply_src_port"`
	ReplyDstIP   string   `json:"reply_dst_ip"`
	ReplyDstPort uint16   `json:"reply_dst_port"`
	Status       []string `json:"status"`
	Mark         uint32   `json:"mark"`
	Zone         uint16   `json:"zone"`
	TimeoutS     uint32   `json:"timeout_s"`
	ID           uint32   `json:"id"`
	Action       string   `json:"action"`
	Reason       string   `json:"reason,omitempty"`
	Error        string   `json:"error,omitempty"`
}

func flowToJSON(r flows.Result) flowJSON {
	fl := r.Flow
	j := flowJSON{
		Proto: fl.Protocol.String(), Family: fl.Family.String(),
		OrigSrcIP: fl.Orig.Src.Addr().String(), OrigSrcPort: fl.Orig.Src.Port(),
		OrigDstIP: fl.Orig.Dst.Addr().String(), OrigDstPort: fl.Orig.Dst.Port(),
		ReplySrcIP: fl.Reply.Src.Addr().String(), ReplySrcPort: fl.Reply.Src.Port(),
		ReplyDstIP: fl.Reply.Dst.Addr().String(), ReplyDstPort: fl.Reply.Dst.Port(),
		Status: fl.Status.Words(), Mark: fl.Mark, Zone: fl.Zone, TimeoutS: fl.Timeout, ID: fl.ID,
		Action: r.Action.String(), Reason: flowReason(r),
	}
	if fl.Protocol == inet.TCP {
		j.State = fl.State.String()
	}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return j
}

// Report prints what was done, or in a dry run would be done, to every
// entry, then the summary.
func (r Flows) Report(results []flows.Result, dryRun bool) error {
	return r.report(slices.Values(results), inet.Summarize(results), dryRun)
}

// ReportList prints a list as Report prints the dry run of its plan, byte
// for byte, one entry at a time.
func (r Flows) ReportList(l *flows.List) error {
	return r.report(l.Results(), l.Summary(), true)
}

// report prints results, which it may range over twice, and their summary
// sum.
func (r Flows) report(results iter.Seq[flows.Result], sum inet.Summary, dryRun bool) error {
	if r.JSON {
		bw := bufio.NewWriterSize(r.W, 64<<10)
		enc := json.NewEncoder(bw)
		if !r.Quiet {
			for res := range results {
				if err := enc.Encode(flowToJSON(res)); err != nil {
					return err
				}
			}
		}
		if err := enc.Encode(summaryOf(sum, dryRun, r.Refused)); err != nil {
			return err
		}
		return bw.Flush()
	}
	bw := bufio.NewWriterSize(r.W, 64<<10)
	if !r.Quiet {
		r.table(bw, results, dryRun)
	}
	if dryRun {
		fmt.Fprintf(bw, "%s matched: %d would be deleted, %d skipped (dry run: nothing was deleted)\n", Entries(sum.Matched), sum.WouldKill, sum.Skipped)
	} else {
		fmt.Fprintf(bw, "%s matched: %d deleted, %d gone, %d failed, %d skipped\n", Entries(sum.Matched), sum.Killed, sum.Gone, sum.Failed, sum.Skipped)
	}
	return bw.Flush()
}

// table writes each entry on two lines, so that both directions fit 100
// columns: the protocol, conntrack's state, the original direction, the
// seconds left and the action (aligned), then the reply direction, the
// status, the mark and zone when they are set, and the entry's id. It
// ranges over results twice: for the widths of the columns, then to
// write each line, keeping no line but the one it writes.
func (r Flows) table(w io.Writer, results iter.Seq[flows.Result], dryRun bool) {
	wState, wOrig, wTimeout := 0, 0, 0
	var line []byte
	for res := range results {
		line = appendOrig(line[:0], res.Flow)
		wState = max(wState, len(flowState(res.Flow)))
		wOrig = max(wOrig, utf8.RuneCount(line))
		wTimeout = max(wTimeout, len(strconv.AppendUint(line[:0], uint64(res.Flow.Timeout), 10))+1)
	}
	// Appended to one line buffer, not printed with fmt: a table of
	// 100,000 entries took a third of the listing's time in Fprintf.
	for res := range results {
		fl := res.Flow
		var action string
		switch res.Action {
		case inet.WouldKill:
			action = flowVerb.plan
		case inet.Killed:
			action = flowVerb.done
		case inet.Skipped:
			action = "skipped"
			if dryRun {
				action = "skip"
			}
		default:
			action = res.Action.String()
		}
		switch {
		case res.Reason != "":
			action += ": " + flowReason(res)
		case res.Err != nil:
			action += ": " + ErrorWords(res.Err)
		}
		line = padRight(append(line[:0], fl.Protocol.String()...), 3)
		line = append(line, "  "...)
		line = padRight(append(line, flowState(fl)...), 5+wState)
		line = append(line, "  "...)
		start := len(line)
		line = appendOrig(line, fl)
		timeout := 1 + len(strconv.AppendUint(line[len(line):], uint64(fl.Timeout), 10))
		line = padRight(line, len(line)+wOrig-utf8.RuneCount(line[start:])+2+wTimeout-timeout)
		line = strconv.AppendUint(line, uint64(fl.Timeout), 10)
		line = append(line, "s  "...)
		line = append(line, Printable(action)...)
		line = append(line, "\n     reply "...)
		line = appendEndpoint(line, fl.Reply.Src, "")
		line = append(line, " → "...)
		line = appendEndpoint(line, fl.Reply.Dst, "")
		line = append(line, "  "...)
		n := len(line)
		if line = fl.Status.AppendWords(line); len(line) == n {
			line = append(line, '-')
		}
		if fl.Mark != 0 {
			line = append(line, "  mark 0x"...)
			line = strconv.AppendUint(line, uint64(fl.Mark), 16)
		}
		if fl.Zone != 0 {
			line = append(line, "  zone "...)
			line = strconv.AppendUint(line, uint64(fl.Zone), 10)
		}
		line = append(line, "  id "...)
		line = strconv.AppendUint(line, uint64(fl.ID), 10)
		line = append(line, '\n')
		w.Write(line)
	}
}

// appendOrig appends the original direction of fl to b: "SRC → DST".
func appendOrig(b []byte, fl flows.Flow) []byte {
	b = appendEndpoint(b, fl.Orig.Src, "")
	b = append(b, " → "...)
	return appendEndpoint(b, fl.Orig.Dst, "")
}

// padRight pads b with spaces to n bytes.
func padRight(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// flowState is conntrack's TCP state as a person reads a state in every
// table (TIME-WAIT, as ss writes a socket's), "-" for UDP; --json and
// --state take it as time_wait.
func flowState(fl flows.Flow) string {
	if fl.Protocol != inet.TCP {
		return "-"
	}
	return stateLabel(fl.State.String())
}

// stateLabel is a state's name (close_wait) as the tables print states:
// CLOSE-WAIT.
func stateLabel(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "_", "-"))
}

// Entries is n conntrack entries: "1 conntrack entry", "2 conntrack
// entries".
func Entries(n int) string {
	if n == 1 {
		return "1 conntrack entry"
	}
	return fmt.Sprintf("%d conntrack entries", n)
}

// flowReason is why an entry was kept back, as the command line says it:
// naming the option that lifts the guard.
func flowReason(r flows.Result) string {
	switch r.Reason {
	case flows.ReasonSession:
		return r.Reason + " (--include-self deletes it too)"
	case flows.ReasonSSHServer, flows.ReasonSSHHidden:
		return r.Reason + "; --include-self deletes it too"
	}
	return r.Reason
}
