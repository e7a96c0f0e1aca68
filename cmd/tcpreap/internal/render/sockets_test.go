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
		if got := resultText(kill.Result{Socket: &s, Action: inet.Failed, Err: err}); got != "failed: "+want {
			t.Errorf("resultText = %q", got)
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
		g := &reap.Group{NetNS: "pid:1 (\"odd\")"}
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

// toJSON is the oracle of appendSocketJSON: encoding/json writes it as the
// line should be.
func (d detail) toJSON(g *reap.Group, res kill.Result) socketJSON {
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
		j.Reason = reasonText(res)
	}
	if res.Err != nil {
		j.Error = ErrorWords(res.Err)
	}
	return j
}

// TestUsersText: the Process column of list -p reads as ss -p's.
func TestUsersText(t *testing.T) {
	s := &sockdiag.Socket{Inode: 7}
	two := []host.Owner{{PID: 812, Command: "redis-server", FD: 9}, {PID: 813, Command: "redis-server", FD: 11}}
	for _, tt := range []struct {
		s      *sockdiag.Socket
		owners []host.Owner
		want   string
	}{
		{s, two, `users:(("redis-server",pid=812,fd=9),("redis-server",pid=813,fd=11))`},
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
