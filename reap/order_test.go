package reap

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestParseOrder(t *testing.T) {
	for word, want := range map[string]Order{"plan": OrderPlan, "idle": OrderIdle, "IDLE": OrderIdle, "random": OrderRandom} {
		if got, err := ParseOrder(word); err != nil || got != want {
			t.Errorf("ParseOrder(%q) = %v, %v; want %v", word, got, err, want)
		}
	}
	for _, word := range []string{"", "oldest", "idlest", "plan,idle"} {
		if _, err := ParseOrder(word); err == nil || !strings.Contains(err.Error(), "plan, idle or random") {
			t.Errorf("ParseOrder(%q): %v; want an error that names the orders", word, err)
		}
	}
}

// TestArrangeIdle: the idlest first, the sockets without tcp_info last in
// the plan's order; random keeps every target.
func TestArrangeIdle(t *testing.T) {
	sock := func(port uint16, state sockdiag.State) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, State: state, ID: sockdiag.SockID{
			Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port), Cookie: sockdiag.Cookie(port)}}
	}
	plan := &kill.Plan{Targets: []sockdiag.Socket{sock(1, sockdiag.TimeWait), sock(2, sockdiag.Established), sock(3, sockdiag.TimeWait), sock(4, sockdiag.CloseWait), sock(5, sockdiag.Established)}}
	idle := func(d time.Duration) sockdiag.TCPInfo {
		return sockdiag.TCPInfo{LastDataSent: d, LastDataRecv: d + time.Second}
	}
	infos := map[sockdiag.Cookie]sockdiag.TCPInfo{2: idle(time.Second), 4: idle(time.Hour), 5: idle(time.Minute)}
	if err := OrderIdle.arrange(t.Context(), plan, nil, infos); err != nil {
		t.Fatal(err)
	}
	var got []sockdiag.Cookie
	for _, s := range plan.Targets {
		got = append(got, s.ID.Cookie)
	}
	if want := []sockdiag.Cookie{4, 5, 2, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("idle order %v, want %v", got, want)
	}
	if err := OrderRandom.arrange(t.Context(), plan, nil, nil); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(plan.Targets, func(a, b sockdiag.Socket) int { return int(a.ID.Cookie) - int(b.ID.Cookie) })
	for i, s := range plan.Targets {
		if s.ID.Cookie != sockdiag.Cookie(i+1) {
			t.Fatalf("random order lost or doubled a target: %v", plan.Targets)
		}
	}
}
