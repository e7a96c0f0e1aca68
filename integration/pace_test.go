// Pacing: --rate and --spread destroy a plan at their pace, --order chooses which go
// first, and an interrupt in the middle of a paced run stops it with a whole report and
// audit line.

package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationPace: 1,000 TIME_WAIT sockets at --rate 100/s take about 10 s, 300 at
// --spread 3s about 3 s; every one is destroyed, and the report says the pace.
func TestIntegrationPace(t *testing.T) {
	e := setup(t)
	heavy.Lock() // one mass of sockets at a time: each churns the hash the others dump
	defer heavy.Unlock()
	for _, c := range []struct {
		n           int
		pace        []string
		say         string
		least, most time.Duration
	}{
		{1000, []string{"--rate", "100/s"}, "100/s", 9 * time.Second, 13 * time.Second},
		{300, []string{"--spread", "3s"}, "3s", 2500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(c.pace[0], func(t *testing.T) {
			e := e.sub(t)
			l := e.listen(e.Local, netip.MustParseAddrPort("192.0.2.1:0"))
			e.check(e.TimeWaitMass(l, c.n))
			port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
			start := time.Now()
			r := e.json(0, append([]string{"-y", "--state", "time_wait", "--sport", port}, c.pace...)...)
			took := time.Since(start)
			// A connection of the mass may take the tuple of one before it.
			if r.Summary.Killed != r.Summary.Matched || r.Summary.Matched < c.n-c.n/20 {
				t.Errorf("summary %+v, want every one of about %d killed", r.Summary, c.n)
			}
			if took < c.least || took > c.most {
				t.Errorf("%s on %d sockets took %v, want %v to %v", strings.Join(c.pace, " "), c.n, took, c.least, c.most)
			}
			if r.Summary.Pace != c.say || r.Summary.TookMS < c.least.Milliseconds() {
				t.Errorf("summary says pace %q, took %d ms; want %q and about %v", r.Summary.Pace, r.Summary.TookMS, c.say, took)
			}
			for _, s := range e.sockets() {
				if s.Local.Port() == l.Addr().(*net.TCPAddr).AddrPort().Port() && s.State == "time_wait" {
					t.Fatalf("a TIME_WAIT socket is left: %v", s)
				}
			}
		})
	}
}

// TestIntegrationPaceOrder: --order idle destroys the idlest connection first; the kernel
// shows them going one at a time, a second apart at --rate 1/s.
func TestIntegrationPaceOrder(t *testing.T) {
	e := setup(t)
	heavy.Lock() // a mass of sockets churns the hash: a dump may miss one, which reads as gone
	defer heavy.Unlock()
	l := e.listenV4()
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	// Connected in this order, the first used last: the idlest is the last one.
	busiest, middle, idlest := e.inbound(l, peer), e.inbound(l, peer), e.inbound(l, peer)
	time.Sleep(1500 * time.Millisecond)
	e.check(testnet.Echo(middle))
	time.Sleep(1500 * time.Millisecond)
	e.check(testnet.Echo(busiest))
	want := []uint64{idlest.Cookie, middle.Cookie, busiest.Cookie}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.Local.Command(ctx, bin, "-y", "--sport", port, "--rate", "1/s", "--order", "idle")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var order []uint64
	var at []time.Duration
	start := time.Now()
	for running := true; running; {
		select {
		case err := <-done:
			running = false
			if err != nil {
				t.Fatalf("tcpreap: %v; stderr %s", err, stderr.String())
			}
		case <-time.After(20 * time.Millisecond):
		}
		ss := e.sockets()
		for _, c := range want {
			if _, present := ss.Cookie(c); !present && !slices.Contains(order, c) {
				order = append(order, c)
				at = append(at, time.Since(start))
			}
		}
	}
	t.Logf("gone in order %v at %v; stdout %s", order, at, stdout.String())
	if !strings.Contains(stdout.String(), "3 destroyed, 0 gone, 0 failed, 0 skipped; paced at 1/s, in 2") {
		t.Errorf("the report does not say the pace and how long it took: %s", stdout.String())
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("the kernel lost them in the order %v, want the idlest first: %v", order, want)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i] - at[i-1]; gap < 700*time.Millisecond {
			t.Errorf("connection %d went %v after the one before, want about a second", i, gap)
		}
	}
}

// TestIntegrationPaceInterrupt: SIGINT in the middle of --rate 100/s on 500 sockets stops
// the run before its next batch: the report names every socket once, each killed one gone
// and each not attempted one alive, the audit line counts the killed, the exit is 130.
func TestIntegrationPaceInterrupt(t *testing.T) {
	e := setup(t)
	heavy.Lock()
	defer heavy.Unlock()
	const n = 500
	l := e.listen(e.Local, netip.MustParseAddrPort("192.0.2.1:7100"))
	e.check(e.TimeWaitMass(l, n))
	sink := newSyslogSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.Local.Command(ctx, bin, "--json", "-y", "--state", "time_wait", "--sport", "7100", "--rate", "100/s")
	cmd.Env = append(cmd.Env, "TCPREAP_SYSLOG_SOCKET="+sink.path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.check(cmd.Start())
	time.Sleep(1500 * time.Millisecond)
	e.check(cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	t.Logf("stderr: %s", stderr.String())
	reported, killed, notAttempted := e.interrupted(err, stdout.String())
	// About 150 in 1.5 s at 100/s; the machine may be slow to start the run.
	// A connection of the mass may take the tuple of one before it.
	if reported < n-n/20 || killed < 50 || killed > 250 || killed+notAttempted != reported {
		t.Errorf("%d sockets reported, %d killed, %d not attempted; want %d, about 150 killed", reported, killed, notAttempted, n)
	}
	if line := sink.one(t); !strings.Contains(line, fmt.Sprintf("killed=%d ", killed)) {
		t.Errorf("the audit line %q does not count the %d killed", line, killed)
	}
}

// TestIntegrationPaceApply: apply takes the pace and the order too; a plan file has no
// tcp_info, which --order idle reads in the namespace before the first destroy.
func TestIntegrationPaceApply(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	busiest, middle, idlest := e.inbound(l, peer), e.inbound(l, peer), e.inbound(l, peer)
	time.Sleep(400 * time.Millisecond)
	e.check(testnet.Echo(middle))
	time.Sleep(400 * time.Millisecond)
	e.check(testnet.Echo(busiest))
	file := e.writePlan(e.plan("--sport", fmt.Sprint(l.Addr().(*net.TCPAddr).Port)))
	r := e.decode(e.tcpreap("apply", "--json", "-y", "--rate", "10/s", "--order", "idle", file), 0)
	var order []uint64
	for _, rec := range r.Sockets {
		order = append(order, rec.Cookie)
	}
	if want := []uint64{idlest.Cookie, middle.Cookie, busiest.Cookie}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("apply destroyed them in the order %v, want the idlest first: %v", order, want)
	}
	if r.Summary.Killed != 3 || r.Summary.Pace != "10/s" {
		t.Errorf("summary %+v, want 3 killed at 10/s", r.Summary)
	}
}

// TestIntegrationPaceReplaced: a target replaced while a paced run waits (closed, and a new
// connection on its tuple) is not destroyed: its batch finds it gone by its cookie, and the
// new connection stays.
func TestIntegrationPaceReplaced(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	var pairs []testnet.Pair
	for _, port := range []uint16{7301, 7302, 7303} {
		pairs = append(pairs, e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, port)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One every 2 s: the first at once, the others while the test replaces them.
	cmd := e.Local.Command(ctx, bin, "-y", "--json", "--sport", fmt.Sprint(l.Addr().(*net.TCPAddr).Port), "--rate", "30/m")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.check(cmd.Start())
	first := -1
	for deadline := time.Now().Add(5 * time.Second); first < 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ss := e.sockets()
		for i, p := range pairs {
			if _, present := ss.Cookie(p.Cookie); !present {
				first = i
			}
		}
	}
	if first < 0 {
		cmd.Wait()
		t.Fatalf("no target went in 5 s; stderr %s", stderr.String())
	}
	var reborn []conn
	for i, p := range pairs {
		if i != first {
			q, err := e.Reincarnate(l, p)
			e.check(err)
			reborn = append(reborn, tcp("reborn", q))
		}
	}
	err := cmd.Wait()
	t.Logf("stdout %s, stderr %s", stdout.String(), stderr.String())
	e.check(err)
	r, err := testnet.ParseReport(stdout.String())
	e.check(err)
	var replaced []conn
	for i, p := range pairs {
		if i != first {
			replaced = append(replaced, tcp("replaced", p))
		}
	}
	expectActions(t, r, map[string][]conn{"killed": {tcp("first", pairs[first])}, "gone": replaced})
	expectPresent(t, e.sockets(), "established", reborn...)
}
