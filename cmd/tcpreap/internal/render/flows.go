package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/netip"
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

// appendFlowJSON appends one conntrack entry of --json output to b, as
// encoding/json writes an object of these fields, in this order (a
// contract): proto, family, state (TCP only: conntrack's state), orig_src_ip,
// orig_src_port, orig_dst_ip, orig_dst_port, reply_src_ip, reply_src_port,
// reply_dst_ip, reply_dst_port, status (a list), mark, zone, timeout_s, id,
// action, then reason, error and ends (what a reset sent them) when there
// is one. Appended, not encoded
// by reflection: a list of 100,000 entries took half its time and most of
// its memory in encoding/json. Only the reason and the error, free text,
// go through encoding/json's string escaping.
func appendFlowJSON(b []byte, r flows.Result) []byte {
	fl := r.Flow
	b = append(b, `{"proto":"`...)
	b = append(b, fl.Protocol.String()...)
	b = append(b, `","family":"`...)
	b = append(b, fl.Family.String()...)
	b = append(b, '"')
	if fl.Protocol == inet.TCP {
		b = append(b, `,"state":"`...)
		b = append(b, fl.State.String()...)
		b = append(b, '"')
	}
	for _, end := range [...]struct {
		name string
		ap   netip.AddrPort
	}{{"orig_src", fl.Orig.Src}, {"orig_dst", fl.Orig.Dst}, {"reply_src", fl.Reply.Src}, {"reply_dst", fl.Reply.Dst}} {
		b = append(b, `,"`...)
		b = append(b, end.name...)
		b = append(b, `_ip":"`...)
		b = end.ap.Addr().AppendTo(b)
		b = append(b, `","`...)
		b = append(b, end.name...)
		b = append(b, `_port":`...)
		b = strconv.AppendUint(b, uint64(end.ap.Port()), 10)
	}
	b = append(b, `,"status":[`...)
	// The words, as AppendWords separates them with commas, each quoted.
	var room [64]byte
	words := fl.Status.AppendWords(room[:0])
	for k, c := range words {
		if k == 0 {
			b = append(b, '"')
		}
		if c == ',' {
			b = append(b, `","`...)
		} else {
			b = append(b, c)
		}
	}
	if len(words) > 0 {
		b = append(b, '"')
	}
	b = append(b, `],"mark":`...)
	b = strconv.AppendUint(b, uint64(fl.Mark), 10)
	b = append(b, `,"zone":`...)
	b = strconv.AppendUint(b, uint64(fl.Zone), 10)
	b = append(b, `,"timeout_s":`...)
	b = strconv.AppendUint(b, uint64(fl.Timeout), 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, uint64(fl.ID), 10)
	b = append(b, `,"action":"`...)
	b = append(b, r.Action.String()...)
	b = append(b, '"')
	if reason := flowReason(r); reason != "" {
		b = appendJSONString(append(b, `,"reason":`...), reason)
	}
	if r.Err != nil {
		b = appendJSONString(append(b, `,"error":`...), r.Err.Error())
	}
	if r.Ends != "" {
		b = appendJSONString(append(b, `,"ends":`...), r.Ends)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
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
		if !r.Quiet {
			var line []byte
			for res := range results {
				line = appendFlowJSON(line[:0], res)
				if _, err := bw.Write(line); err != nil {
					return err
				}
			}
		}
		if err := json.NewEncoder(bw).Encode(summaryOf(sum, dryRun, r.Refused)); err != nil {
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
		if res.Ends != "" {
			action += "; " + res.Ends
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
