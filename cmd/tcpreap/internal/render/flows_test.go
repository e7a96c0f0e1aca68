package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
)

func TestFlowRenderer(t *testing.T) {
	fl := flows.Flow{ID: 7, Family: inet.IPv4, Protocol: inet.TCP, State: flows.Est,
		Orig:   flows.Tuple{Src: netip.MustParseAddrPort("198.51.100.2:40000"), Dst: netip.MustParseAddrPort("198.51.100.1:8080")},
		Reply:  flows.Tuple{Src: netip.MustParseAddrPort("192.0.2.2:80"), Dst: netip.MustParseAddrPort("192.0.2.1:40000")},
		Status: flows.SeenReply | flows.Assured | flows.DstNAT, Mark: 0x10, Zone: 2, Timeout: 431999}
	udp := fl
	udp.Protocol, udp.State, udp.Status, udp.ID = inet.UDP, 0, 0, 8
	results := []flows.Result{
		{Flow: fl, Action: inet.Killed},
		{Flow: udp, Action: inet.Failed, Err: &flows.OpError{Op: "delete", Err: unix.EPERM}},
	}
	var out bytes.Buffer
	if err := (Flows{W: &out}).Report(results, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"tcp  ESTABLISHED  198.51.100.2:40000 → 198.51.100.1:8080  431999s  deleted",
		"     reply 192.0.2.2:80 → 192.0.2.1:40000  assured,dnat  mark 0x10  zone 2  id 7",
		"udp  -            198.51.100.2:40000 → 198.51.100.1:8080  431999s  failed: ",
		"     reply 192.0.2.2:80 → 192.0.2.1:40000  unreplied  mark 0x10  zone 2  id 8",
		"2 conntrack entries matched: 1 deleted, 0 gone, 1 failed, 0 skipped"} {
		if !strings.Contains(text, want) {
			t.Errorf("the table has no %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("a line of %d columns: %q", n, line)
		}
	}

	out.Reset()
	if err := (Flows{W: &out, JSON: true}).Report(results, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("NDJSON of %d lines:\n%s", len(lines), out.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"proto": "tcp", "family": "ipv4", "state": "established", "orig_src_ip": "198.51.100.2",
		"orig_dst_port": 8080.0, "reply_src_ip": "192.0.2.2", "reply_src_port": 80.0, "mark": 16.0, "zone": 2.0, "timeout_s": 431999.0,
		"id": 7.0, "action": "killed"} {
		if first[key] != want {
			t.Errorf("%s: %v, want %v", key, first[key], want)
		}
	}
	if strings.Contains(lines[1], `"state"`) || !strings.Contains(lines[1], `"error":`) {
		t.Errorf("a UDP entry has a state, or a failed one no error: %s", lines[1])
	}
	if !strings.HasPrefix(lines[2], `{"summary":{"matched":2,`) {
		t.Errorf("summary line %s", lines[2])
	}
}

// TestFlowReasonNamesIncludeSelf: an entry the SSH guard kept back, as the
// session's or as an SSH server's, says how to delete it too.
func TestFlowReasonNamesIncludeSelf(t *testing.T) {
	for _, why := range []string{flows.ReasonSession, flows.ReasonSSHServer} {
		if got := flowReason(flows.Result{Action: inet.Skipped, Reason: why}); !strings.HasPrefix(got, why) || !strings.Contains(got, "--include-self") {
			t.Errorf("%q: %q, want it with --include-self", why, got)
		}
	}
}

// TestFlowPlanSummaryNamesTheNamespace: the confirmation of a delete in
// another namespace's table (conntrack --netns router1) says which, as the
// one of sockets does; in tcpreap's own it says nothing of namespaces.
func TestFlowPlanSummaryNamesTheNamespace(t *testing.T) {
	fl := flows.Flow{ID: 7, Family: inet.IPv4, Protocol: inet.TCP, State: flows.Est,
		Orig: flows.Tuple{Src: netip.MustParseAddrPort("198.51.100.2:40000"), Dst: netip.MustParseAddrPort("198.51.100.1:8080")}}
	plan := &flows.Plan{Targets: []flows.Flow{fl, fl}}
	if got := FlowPlanSummary(plan, "router\x1b1"); !strings.Contains(got, `2 in network namespace router\x1b1`) {
		t.Errorf("summary %q: want the namespace named, escaped", got)
	}
	if got := FlowPlanSummary(plan, ""); strings.Contains(got, "namespace") {
		t.Errorf("summary %q: want no namespace for tcpreap's own", got)
	}
}

// dryRunFlows are entries of both protocols and families, of columns of
// several widths, one of them kept back.
func dryRunFlows() []flows.Flow {
	ap := netip.MustParseAddrPort
	tcp := flows.Flow{ID: 7, Family: inet.IPv4, Protocol: inet.TCP, State: flows.TimeWait,
		Orig:   flows.Tuple{Src: ap("198.51.100.2:40000"), Dst: ap("198.51.100.1:22")},
		Reply:  flows.Tuple{Src: ap("198.51.100.1:22"), Dst: ap("198.51.100.2:40000")},
		Status: flows.SeenReply | flows.Assured, Mark: 0x10, Timeout: 120}
	udp := flows.Flow{ID: 8, Family: inet.IPv4, Protocol: inet.UDP,
		Orig:  flows.Tuple{Src: ap("192.0.2.1:5353"), Dst: ap("192.0.2.2:53")},
		Reply: flows.Tuple{Src: ap("192.0.2.2:53"), Dst: ap("192.0.2.1:5353")}, Zone: 3, Timeout: 29}
	udp6 := flows.Flow{ID: 9, Family: inet.IPv6, Protocol: inet.UDP,
		Orig:   flows.Tuple{Src: ap("[2001:db8::1]:1024"), Dst: ap("[2001:db8::53]:53")},
		Reply:  flows.Tuple{Src: ap("[2001:db8::53]:53"), Dst: ap("[2001:db8::1]:1024")},
		Status: flows.SeenReply, Timeout: 3599}
	return []flows.Flow{udp6, tcp, udp}
}

// dryRunTable is the table of a dry run of dryRunFlows with the session
// 198.51.100.2:40000 → 198.51.100.1:22 kept back: aligned on the widest
// original direction and timeout.
const dryRunTable = `udp  -          192.0.2.1:5353 → 192.0.2.2:53             29s  delete
     reply 192.0.2.2:53 → 192.0.2.1:5353  unreplied  zone 3  id 8
udp  -          [2001:db8::1]:1024 → [2001:db8::53]:53  3599s  delete
     reply [2001:db8::53]:53 → [2001:db8::1]:1024  -  id 9
tcp  TIME-WAIT  198.51.100.2:40000 → 198.51.100.1:22     120s  skip: the ssh session tcpreap runs in (--include-self deletes it too)
     reply 198.51.100.1:22 → 198.51.100.2:40000  assured  mark 0x10  id 7
3 conntrack entries matched: 2 would be deleted, 1 skipped (dry run: nothing was deleted)
`

var dryRunSession = &inet.Session{Client: netip.MustParseAddrPort("198.51.100.2:40000"), Server: netip.MustParseAddrPort("198.51.100.1:22")}

// TestFlowDryRunTable pins a dry run's table byte for byte.
func TestFlowDryRunTable(t *testing.T) {
	var out bytes.Buffer
	fls := dryRunFlows()
	if err := (Flows{W: &out}).Report(flows.NewPlan([]flows.Flow{fls[2], fls[0], fls[1]}, dryRunSession).DryRun(), true); err != nil {
		t.Fatal(err)
	}
	if out.String() != dryRunTable {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), dryRunTable)
	}
}

// walker is a table that a dump reads fls from, in their order.
type walker []flows.Flow

func (w walker) Walk(_ context.Context, f *flows.Filter, fn func(*flows.Flow)) error {
	for _, fl := range w {
		if f.Match(&fl) {
			fn(&fl)
		}
	}
	return nil
}

// TestFlowReportList: a List prints as the dry run of its plan, table and
// NDJSON, byte for byte.
func TestFlowReportList(t *testing.T) {
	fls := dryRunFlows()
	l, err := flows.NewList(context.Background(), walker(fls), &flows.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}}, dryRunSession)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (Flows{W: &out}).ReportList(l); err != nil {
		t.Fatal(err)
	}
	if out.String() != dryRunTable {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), dryRunTable)
	}
	dry := flows.NewPlan([]flows.Flow{fls[2], fls[0], fls[1]}, dryRunSession).DryRun()
	for _, r := range []Flows{{JSON: true}, {JSON: true, Refused: "over --max"}, {Quiet: true}, {JSON: true, Quiet: true}} {
		var list, want bytes.Buffer
		r.W = &list
		if err := r.ReportList(l); err != nil {
			t.Fatal(err)
		}
		r.W = &want
		if err := r.Report(dry, true); err != nil {
			t.Fatal(err)
		}
		if list.String() != want.String() {
			t.Errorf("%+v:\n%s\nwant:\n%s", r, list.String(), want.String())
		}
	}
}

// flowJSON is one conntrack entry in --json output as encoding/json
// writes it: what appendFlowJSON must write, byte for byte.
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

// TestFlowJSONIsEncodingJSON: an entry in --json is what encoding/json
// writes of its fields, byte for byte, for entries of every protocol,
// family, status, action, reason and error (with characters JSON escapes).
func TestFlowJSONIsEncodingJSON(t *testing.T) {
	ap := netip.MustParseAddrPort
	var fls []flows.Flow
	for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
		for k, s := range []flows.Status{0, flows.SeenReply, flows.SeenReply | flows.Assured, flows.Assured | flows.SrcNAT | flows.DstNAT | flows.Expected | flows.Dying | flows.Offloaded} {
			fl := flows.Flow{ID: uint32(k) * 0xdeadbeef, Family: inet.IPv4, Protocol: p, State: flows.TCPState(k * 3), Status: s,
				Orig:  flows.Tuple{Src: ap("198.51.100.2:40000"), Dst: ap("198.51.100.1:0")},
				Reply: flows.Tuple{Src: ap("192.0.2.2:65535"), Dst: ap("192.0.2.1:1")}, Mark: uint32(k) << 30, Zone: uint16(k) * 20000, Timeout: uint32(k) * 1e9}
			fls = append(fls, fl)
			fl.Family = inet.IPv6
			fl.Orig = flows.Tuple{Src: ap("[2001:db8::1]:1024"), Dst: ap("[::ffff:192.0.2.1]:53")}
			fl.Reply = flows.Tuple{Src: ap("[2001:db8::53]:53"), Dst: ap("[2001:db8:0:1::1]:1024")}
			fls = append(fls, fl)
		}
	}
	var results []flows.Result
	for i, fl := range fls {
		results = append(results, []flows.Result{
			{Flow: fl, Action: inet.WouldKill},
			{Flow: fl, Action: inet.Killed},
			{Flow: fl, Action: inet.Gone},
			{Flow: fl, Action: inet.Skipped, Reason: []string{flows.ReasonSession, flows.ReasonSSHServer, flows.ReasonSSHHidden}[i%3]},
			{Flow: fl, Action: inet.Failed, Err: &flows.OpError{Op: "delete", Flow: &fl, Err: errors.New("<\"quoted\"> & \\ \n\t\x01 \xff \u2028 é")}},
		}...)
	}
	for _, r := range results {
		want, err := json.Marshal(flowToJSON(r))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendFlowJSON(nil, r)); got != string(want)+"\n" {
			t.Errorf("%+v:\n%s\nwant:\n%s", r, got, want)
		}
	}
}
