package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// testPlan is three targets and a listener kept back, scoped to interface
// 2: IPv4, v4-mapped and IPv6.
func testPlan() *kill.Plan {
	s := func(state sockdiag.State, fam inet.Family, local, remote string, cookie sockdiag.Cookie) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, Family: fam, State: state, UID: 1000, Inode: 77,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Interface: 2, Cookie: cookie}}
	}
	return &kill.Plan{
		Targets: []sockdiag.Socket{
			s(sockdiag.CloseWait, inet.IPv4, "192.0.2.1:5432", "192.0.2.2:40000", 1<<40|5),
			s(sockdiag.Established, inet.IPv6, "[::ffff:192.0.2.1]:80", "[::ffff:192.0.2.2]:40001", 6),
			s(sockdiag.TimeWait, inet.IPv6, "[2001:db8::1]:443", "[2001:db8::2]:40002", 7),
		},
		Skipped: []kill.Skip{{Socket: s(sockdiag.Listen, inet.IPv4, "192.0.2.1:5432", "0.0.0.0:0", 8), Reason: kill.ReasonListen}},
	}
}

// TestReportJSON: one object per socket with the contract's fields, then the
// summary; a guard's reason names the option that lifts it.
func TestReportJSON(t *testing.T) {
	plan := testPlan()
	var out bytes.Buffer
	if err := (Sockets{W: &out, JSON: true}).Report(reap.NewReport(true, reap.Group{Results: plan.DryRun()})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 4 sockets and a summary:\n%s", len(lines), out.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"proto", "family", "state", "local_ip", "local_port", "remote_ip", "remote_port", "interface", "cookie", "inode", "uid", "action"} {
		if _, ok := first[key]; !ok {
			t.Errorf("socket object lacks %q: %s", key, lines[0])
		}
	}
	if !strings.Contains(lines[3], `"reason":"LISTEN sockets are only destroyed when --state names listen"`) {
		t.Errorf("the skipped listener: %s", lines[3])
	}
	if lines[4] != `{"summary":{"matched":4,"would_kill":3,"killed":0,"gone":0,"failed":0,"skipped":1,"dry_run":true}}` {
		t.Errorf("summary %s", lines[4])
	}
}

// TestReportPending: a destroy still waiting behind a held lock is "pending" with why, in
// the table and in JSON, and the summaries count it apart: it may still be destroyed.
func TestReportPending(t *testing.T) {
	plan := testPlan()
	results := []kill.Result{
		{Socket: &plan.Targets[0], Action: inet.Killed},
		{Socket: &plan.Targets[1], Action: inet.Pending, Err: fmt.Errorf("%w: %w", sockdiag.ErrLockHeld, sockdiag.ErrPending)},
		{Socket: &plan.Targets[2], Action: inet.Pending, Err: fmt.Errorf("%w: %w", sockdiag.ErrQueued, sockdiag.ErrPending)},
	}
	var table, js bytes.Buffer
	if err := (Sockets{W: &table}).Report(reap.NewReport(false, reap.Group{Results: results})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pending: its lock is held", "pending: sent behind the destroy of a socket whose lock is held",
		"3 sockets matched: 1 destroyed, 0 gone, 0 failed, 0 skipped; 2 pending: may still be destroyed"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table does not say %q:\n%s", want, table.String())
		}
	}
	if err := (Sockets{W: &js, JSON: true}).Report(reap.NewReport(false, reap.Group{Results: results})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if !strings.Contains(lines[1], `"action":"pending","error":"its lock is held`) {
		t.Errorf("the held socket: %s", lines[1])
	}
	if lines[3] != `{"summary":{"matched":3,"would_kill":0,"killed":1,"gone":0,"failed":0,"skipped":0,"pending":2,"dry_run":false}}` {
		t.Errorf("summary %s", lines[3])
	}
}

func TestErrorWords(t *testing.T) {
	s := testPlan().Targets[0]
	for err, want := range map[error]string{
		&sockdiag.OpError{Op: "destroy", Err: fmt.Errorf("%w: %w", sockdiag.ErrPermission, unix.EPERM)}: "operation not permitted",
		&sockdiag.OpError{Op: "destroy", Err: fmt.Errorf("not attempted: %w", sockdiag.ErrNoDestroy)}:   "not attempted: " + sockdiag.ErrNoDestroy.Error(),
		sockdiag.ErrStillPresent:     "still present after destroy",
		errors.New("the dump broke"): "the dump broke",
	} {
		if got := ErrorWords(err); got != want {
			t.Errorf("ErrorWords(%v) = %q, want %q", err, got, want)
		}
		if got := resultWords(kill.Result{Socket: &s, Action: inet.Failed, Err: err}, socketVerb, false); got != "failed: "+want {
			t.Errorf("resultWords = %q", got)
		}
	}
}

// TestTableShowsScope: a socket scoped to an interface shows it as ss does.
func TestTableShowsScope(t *testing.T) {
	plan := testPlan() // its sockets are scoped to interface 2
	var out bytes.Buffer
	rep := reap.NewReport(true, reap.Group{Results: plan.DryRun(), InterfaceName: func(i uint32) string { return fmt.Sprintf("veth%d", i) }})
	if err := (Sockets{W: &out}).Report(rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"192.0.2.1%veth2:5432", "[2001:db8::1]%veth2:443", "192.0.2.2:40000 ", "0.0.0.0:*"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSocketJSONByHand: the --json line written by hand is what
// encoding/json writes for the contract's struct, byte for byte.
func TestSocketJSONByHand(t *testing.T) {
	plan := testPlan()
	results := plan.DryRun()
	odd := plan.Targets[1]
	odd.ID.Interface, odd.ID.Cookie, odd.UID, odd.Inode = 1<<32-1, 1<<64-2, 65534, 1<<32-1
	odd.RecvQ, odd.SendQ = 1, 1<<32-1
	results = append(results,
		kill.Result{Socket: &odd, Action: inet.Failed, Err: errors.New("<odd> & \"quoted\" \x1b\u2028 \xff")},
		kill.Result{Socket: &plan.Targets[2], Action: inet.Killed},
		kill.Result{Socket: &plan.Targets[0], Action: inet.Skipped, Reason: kill.ReasonChanged},
	)
	// With list -p: the processes that hold each socket, none for the rest,
	// odd command names too.
	owners := map[uint32][]host.Owner{
		odd.Inode:             {{PID: 812, Command: "redis-server", FD: 9}, {PID: 1<<22 - 1, Command: "\"odd\" <\x01>", FD: 1 << 20}},
		plan.Targets[0].Inode: {{PID: 1, Command: "init", FD: 3}},
	}
	// With list -e: tcp_info for some sockets, none for the rest.
	infos := map[sockdiag.Cookie]sockdiag.TCPInfo{odd.ID.Cookie: {Retransmits: 255, Backoff: 3, Unacked: 1 << 31,
		LastDataSent: 90 * time.Second, LastDataRecv: 3 * time.Hour, RTT: 1500 * time.Microsecond}}
	for _, d := range []detail{{}, {owners: owners}, {owners: map[uint32][]host.Owner{}}, {infos: infos}, {owners: owners, infos: infos}} {
		g := &reap.Group{NetNS: "pid:1 (\"odd\")", InterfaceName: func(i uint32) string {
			if i == 2 {
				return "eth\"0\x01"
			}
			return fmt.Sprint(i)
		}}
		for _, res := range results {
			d.labelled = !d.labelled
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(d.toJSON(g, res)); err != nil {
				t.Fatal(err)
			}
			if got := d.appendSocketJSON(nil, g, res); string(got) != want.String() {
				t.Errorf("by hand:\n%s\nencoding/json:\n%s", got, want.String())
			}
		}
	}
}

// socketJSON is one socket in --json output; the fields are a contract,
// which appendSocketJSON writes by hand.
type socketJSON struct {
	Proto      string `json:"proto"`
	Family     string `json:"family"`
	State      string `json:"state"`
	LocalIP    string `json:"local_ip"`
	LocalPort  uint16 `json:"local_port"`
	RemoteIP   string `json:"remote_ip"`
	RemotePort uint16 `json:"remote_port"`
	Interface  uint32 `json:"interface"`
	// InterfaceName names Interface in the socket's namespace; "" for 0.
	InterfaceName string `json:"interface_name"`
	Cookie        uint64 `json:"cookie"`
	Inode         uint32 `json:"inode"`
	UID           uint32 `json:"uid"`
	RecvQ         uint32 `json:"recv_q"`
	SendQ         uint32 `json:"send_q"`
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
	// ReasonCode is the skip's reason as the table names it, Reason the
	// sentence.
	ReasonCode string `json:"reason_code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// processJSON is one process that holds a socket.
type processJSON struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	FD      int    `json:"fd"`
}

// toJSON is the oracle of appendSocketJSON: encoding/json writes it as the
// line should be.
func (d detail) toJSON(g *reap.Group, res kill.Result) socketJSON {
	s := res.Socket
	j := socketJSON{
		Proto:         s.Protocol.String(),
		Family:        s.Family.String(),
		State:         s.State.String(),
		LocalIP:       s.ID.Local.Addr().String(),
		LocalPort:     s.ID.Local.Port(),
		RemoteIP:      s.ID.Remote.Addr().String(),
		RemotePort:    s.ID.Remote.Port(),
		Interface:     s.ID.Interface,
		InterfaceName: interfaceName(g, s.ID.Interface),
		Cookie:        uint64(s.ID.Cookie),
		Inode:         s.Inode,
		UID:           s.UID,
		RecvQ:         s.RecvQ,
		SendQ:         s.SendQ,
		Action:        res.Action.String(),
	}
	if info, ok := d.infos[s.ID.Cookie]; ok {
		idle, rtt := info.Idle().Milliseconds(), info.RTT.Microseconds()
		j.IdleMS, j.Retransmits, j.Backoff, j.Unacked, j.RTTMicros = &idle, &info.Retransmits, &info.Backoff, &info.Unacked, &rtt
	}
	if d.infos != nil {
		j.Timer, j.TimerMS = s.TimerName(), &s.Expires
	}
	if d.owners != nil {
		procs := []processJSON{}
		if s.Inode != 0 {
			for _, o := range d.owners[s.Inode] {
				procs = append(procs, processJSON{PID: o.PID, Command: o.Command, FD: o.FD})
			}
		}
		j.Processes = &procs
	}
	if d.labelled {
		j.NetNS = g.NetNS
	}
	if res.Action == inet.Skipped {
		j.ReasonCode, j.Reason = res.Reason.Code(), reasonText(res)
	}
	if res.Err != nil {
		j.Error = ErrorWords(res.Err)
	}
	return j
}

// TestUsersText: the Process column of list -p names the holders as the
// doctor does, command[pid], a command's pids together, each once.
func TestUsersText(t *testing.T) {
	s := &sockdiag.Socket{Inode: 7}
	two := []host.Owner{{PID: 812, Command: "redis-server", FD: 9}, {PID: 813, Command: "redis-server", FD: 11}}
	for _, tt := range []struct {
		s      *sockdiag.Socket
		owners []host.Owner
		want   string
	}{
		{s, two, `redis-server[812,813]`},
		{s, append(two, host.Owner{PID: 812, Command: "redis-server", FD: 12}, host.Owner{PID: 1, Command: "init\x1b", FD: 3}), `redis-server[812,813], init\x1b[1]`},
		{s, nil, "?"},
		{&sockdiag.Socket{}, nil, "-"},
	} {
		if got := usersText(tt.s, tt.owners); got != tt.want {
			t.Errorf("usersText = %s, want %s", got, tt.want)
		}
	}
}

// TestTimerText: list -e's Timer column reads as ss's timer:(…) does.
func TestTimerText(t *testing.T) {
	for _, tt := range []struct {
		s    sockdiag.Socket
		want string
	}{
		{sockdiag.Socket{}, "off"},
		{sockdiag.Socket{Timer: 1, Expires: 204, Retrans: 3}, "on,204ms,3"},
		{sockdiag.Socket{Timer: 2, Expires: 112_400}, "keepalive,1m52s,0"},
		{sockdiag.Socket{Timer: 3, Expires: 59_999}, "timewait,1m0s,0"},
		{sockdiag.Socket{Timer: 4, Expires: 1500, Retrans: 2}, "persist,2s,2"},
		{sockdiag.Socket{Timer: 9, Expires: 1}, "unknown,1ms,0"},
	} {
		if got := string(appendTimer(nil, &tt.s)); got != tt.want {
			t.Errorf("timer %d expires %d: %s, want %s", tt.s.Timer, tt.s.Expires, got, tt.want)
		}
	}
}

// TestTableSkipsSaidOnce: a skipped row names its reason by a code; the
// sentence is said once below the table, for every row of that reason. A
// dry run says what the plan does to each socket: destroy, or skip.
func TestTableSkipsSaidOnce(t *testing.T) {
	plan := testPlan()
	listener := plan.Skipped[0].Socket
	other := listener
	other.ID.Local = netip.MustParseAddrPort("192.0.2.1:6432")
	plan.Skipped = append(plan.Skipped, kill.Skip{Socket: other, Reason: kill.ReasonListen},
		kill.Skip{Socket: plan.Targets[0], Reason: kill.ReasonSSHServer})
	var out bytes.Buffer
	if err := (Sockets{W: &out}).Report(reap.NewReport(true, reap.Group{Results: plan.DryRun()})); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for want, n := range map[string]int{
		"skip: listen  ": 0, "skip: listen\n": 2, "skip: ssh_server\n": 1,
		"listen: LISTEN sockets are only destroyed when --state names listen\n": 1,
		"\nssh_server: held by an SSH server, and tcpreap cannot tell":          1,
		"\n  runs in (tmux or screen); --include-self destroys it\n":            1, // wrapped within 100 columns
		"destroy\n": 3,
	} {
		if got := strings.Count(text, want); got != n {
			t.Errorf("%q %d times, want %d:\n%s", want, got, n, text)
		}
	}
	if !strings.HasSuffix(text, "would be destroyed, 3 skipped (dry run: nothing was destroyed)\n") {
		t.Errorf("the summary line is not last:\n%s", text)
	}
}

// TestListProcessesFits120: the widest rows list -p shows on a busy host
// (IPv4 endpoints of private networks with ephemeral ports, a seven-digit
// pid, a command name as long as the kernel keeps, a skip, a FIN-WAIT-1
// state, full queues) fit a terminal of 120 columns.
func TestListProcessesFits120(t *testing.T) {
	s := func(state sockdiag.State, local, remote string, cookie sockdiag.Cookie) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: state, Inode: uint32(cookie), RecvQ: 212992, SendQ: 212992,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Cookie: cookie}}
	}
	plan := &kill.Plan{
		Targets: []sockdiag.Socket{
			s(sockdiag.FinWait1, "10.120.200.17:54321", "172.16.254.100:5432", 1),
			s(sockdiag.CloseWait, "172.16.254.100:5432", "10.120.200.17:54321", 2),
		},
		Skipped: []kill.Skip{
			{Socket: s(sockdiag.Established, "172.16.254.100:22", "10.120.200.17:65535", 3), Reason: kill.ReasonSSHUnsure},
			{Socket: s(sockdiag.Established, "172.16.254.100:22", "10.120.200.17:65534", 4), Reason: kill.ReasonSSHServer},
		},
	}
	owners := map[uint32][]host.Owner{
		1: {{PID: 4194304, Command: "postgres", FD: 123}},
		2: {{PID: 4194303, Command: "php-fpm: pool w", FD: 1023}},
		3: {{PID: 4194302, Command: "sshd", FD: 4}},
		4: {{PID: 4194301, Command: "sshd-session", FD: 4}},
	}
	// Only list shows the holders: a dry run.
	for _, results := range [][]kill.Result{plan.DryRun()} {
		rep := reap.NewReport(true, reap.Group{Results: results})
		rep.Owners = owners
		var out bytes.Buffer
		if err := (Sockets{W: &out}).Report(rep); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		rows := 0
		for _, line := range lines {
			if strings.HasPrefix(line, "tcp ") {
				rows++
			}
			if w := displayWidth([]byte(line)); w > 120 {
				t.Errorf("a line of %d columns:\n%s", w, line)
			}
		}
		if rows != len(results) {
			t.Errorf("%d rows, want %d:\n%s", rows, len(results), out.String())
		}
		t.Logf("list -p:\n%s", out.String())
	}
}

// TestTableNamesNamespace: a report of one namespace other than tcpreap's
// own (--netns, or a plan file made there) names it in a column, as one
// of several does; one of tcpreap's own alone has no such column.
func TestTableNamesNamespace(t *testing.T) {
	plan := testPlan()
	var own bytes.Buffer
	if err := (Sockets{W: &own}).Report(reap.NewReport(true, reap.Group{Results: plan.DryRun()})); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(own.String(), "NetNS") {
		t.Errorf("tcpreap's own namespace alone is named:\n%s", own.String())
	}
	var other bytes.Buffer
	if err := (Sockets{W: &other}).Report(reap.NewReport(true, reap.Group{NetNS: "web1", Results: plan.DryRun()})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(other.String(), "\n")
	if !strings.HasPrefix(lines[0], "NetNS  Proto") || !strings.HasPrefix(lines[1], "web1   tcp") {
		t.Errorf("--netns web1:\n%s", other.String())
	}
}

// TestJSONNamesInterface: a socket bound to an interface carries its name
// beside its index; one bound to none, "".
func TestJSONNamesInterface(t *testing.T) {
	plan := testPlan()
	plan.Targets[1].ID.Interface = 0
	var out bytes.Buffer
	rep := reap.NewReport(true, reap.Group{Results: plan.DryRun(), InterfaceName: func(i uint32) string { return fmt.Sprintf("veth%d", i) }})
	if err := (Sockets{W: &out, JSON: true}).Report(rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], `"interface":2,"interface_name":"veth2"`) || !strings.Contains(lines[1], `"interface":0,"interface_name":""`) {
		t.Errorf("JSON:\n%s", out.String())
	}
	if !strings.Contains(lines[3], `"reason_code":"listen","reason":"LISTEN sockets`) {
		t.Errorf("the listener kept back: %s", lines[3])
	}
}

// TestInterfaceGone: a socket bound to an interface that went away has no
// name in JSON (not its index, which could be read as a name), and its index
// in the table, as ss shows it.
func TestInterfaceGone(t *testing.T) {
	plan := testPlan()
	rep := reap.NewReport(true, reap.Group{Results: plan.DryRun(), InterfaceName: func(uint32) string { return "" }})
	var js, table bytes.Buffer
	if err := (Sockets{W: &js, JSON: true}).Report(rep); err != nil {
		t.Fatal(err)
	}
	if err := (Sockets{W: &table}).Report(rep); err != nil {
		t.Fatal(err)
	}
	if first := strings.Split(js.String(), "\n")[0]; !strings.Contains(first, `"interface":2,"interface_name":""`) {
		t.Errorf("JSON of a socket on a gone interface: %s", first)
	}
	if !strings.Contains(table.String(), "%2:") {
		t.Errorf("the table does not show the gone interface's index:\n%s", table.String())
	}
}

// TestReportEngine: each result names its engine in JSON; the table's summary line
// names the engines when one other than SOCK_DESTROY's acted, and only then.
func TestReportEngine(t *testing.T) {
	plan := testPlan()
	for _, tc := range []struct {
		engines []string
		line    string
	}{
		{[]string{"diag", "diag"}, "2 sockets matched: 2 destroyed, 0 gone, 0 failed, 0 skipped\n"},
		{[]string{"fd", "fd"}, "2 sockets matched: 2 destroyed, 0 gone, 0 failed, 0 skipped; by the fd engine\n"},
		{[]string{"fd", "diag"}, "2 sockets matched: 2 destroyed, 0 gone, 0 failed, 0 skipped; by the diag and fd engines\n"},
	} {
		results := []kill.Result{
			{Socket: &plan.Targets[0], Action: inet.Killed, Engine: tc.engines[0]},
			{Socket: &plan.Targets[1], Action: inet.Killed, Engine: tc.engines[1]},
		}
		var table, js bytes.Buffer
		if err := (Sockets{W: &table, Quiet: true}).Report(reap.NewReport(false, reap.Group{Results: results})); err != nil {
			t.Fatal(err)
		}
		if table.String() != tc.line {
			t.Errorf("engines %v: the summary says %q, want %q", tc.engines, table.String(), tc.line)
		}
		if err := (Sockets{W: &js, JSON: true}).Report(reap.NewReport(false, reap.Group{Results: results})); err != nil {
			t.Fatal(err)
		}
		if first := strings.SplitN(js.String(), "\n", 2)[0]; !strings.HasSuffix(first, `"action":"killed","engine":"`+tc.engines[0]+`"}`) {
			t.Errorf("engines %v: the first object %s does not name its engine", tc.engines, first)
		}
	}
}
