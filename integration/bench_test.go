// Benchmarks: tcpreap against ss -K on the same TIME_WAIT population in the same run.

package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// BenchmarkDestroyTimeWait measures tcpreap against ss -K on the same
// population in the same run: N TIME_WAIT sockets on host A (no process
// holds them, so N is not bounded by file descriptors), each iteration
// building the population twice, once for each tool, and checking that the
// kernel shows none of it afterwards. ns/op is tcpreap's wall time for the
// whole run (plan, destroy, verify); ss-K-ns/op is ss's; ss-K/tcpreap is the
// ratio, above 1 when tcpreap is faster. N is TCPREAP_BENCH_SOCKETS (10000).
// TIME_WAIT destroys need Linux 6.0.
func BenchmarkDestroyTimeWait(b *testing.B) {
	count := 10000
	if v := os.Getenv("TCPREAP_BENCH_SOCKETS"); v != "" {
		var err error
		if count, err = strconv.Atoi(v); err != nil || count < 1 {
			b.Fatalf("TCPREAP_BENCH_SOCKETS=%q is not a count", v)
		}
	}
	n := testnet.New(b)
	l, err := n.Listen(n.Local, netip.MustParseAddrPort("192.0.2.1:7000"))
	if err != nil {
		b.Fatal(err)
	}
	tools := []struct {
		name string
		argv []string
	}{
		{"tcpreap", []string{bin, "--state", "time_wait", "--sport", "7000", "-y", "-q", "--no-audit"}},
		{"ss -K", []string{"ss", "-K", "-tn", "state", "time-wait", "( sport = :7000 )"}},
	}
	var spent [2]time.Duration
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		for i, tool := range tools {
			timeWaitPopulation(b, n, l, count)
			if i == 0 {
				b.StartTimer()
			}
			start := time.Now()
			res, err := n.Local.Run(tool.argv...)
			spent[i] += time.Since(start)
			if i == 0 {
				b.StopTimer()
			}
			if err != nil || res.Code != 0 {
				b.Fatalf("%s: exit %d, %v: %s", tool.name, res.Code, err, res.Stderr)
			}
			if left := countTimeWait(b, n); left != 0 {
				b.Fatalf("%s left %d of %d TIME_WAIT sockets", tool.name, left, count)
			}
		}
	}
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "ss-K-ns/op")
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "ss-K/tcpreap")
	b.Logf("%d TIME_WAIT sockets: tcpreap %v, ss -K %v per run; ss -K / tcpreap = %.2f",
		count, spent[0]/time.Duration(b.N), spent[1]/time.Duration(b.N), spent[1].Seconds()/spent[0].Seconds())
}

// timeWaitPopulation makes count connections from B to A's listener, closes
// A's ends first and then B's, and waits until A holds count TIME_WAIT
// sockets.
func timeWaitPopulation(b *testing.B, n *testnet.Net, l *net.TCPListener, count int) {
	b.Helper()
	// A closes each connection as it accepts it: A closes first, and holds
	// no descriptors for the population.
	accepted := make(chan error, 1)
	go func() {
		for range count {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			c.Close()
		}
		accepted <- nil
	}()
	clients := make([]net.Conn, 0, count)
	// Closed on every way out: a failure that left them open could leave the
	// process without descriptors to run the namespaces' cleanup.
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	err := n.Peer.Do(func() error {
		var d net.Dialer
		d.SetMultipathTCP(false)
		for range count {
			c, err := d.Dial("tcp", "192.0.2.1:7000")
			if err != nil {
				return err
			}
			clients = append(clients, c)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	// B closes once A's FIN has arrived everywhere, so that A, which closed
	// first, is the end left in TIME_WAIT.
	if _, err := n.Local.Await("FIN_WAIT2 on every connection", func(ss testnet.Sockets) bool {
		return countState(ss, "fin_wait2") == count
	}); err != nil {
		b.Fatal(err)
	}
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	if _, err := n.Local.Await(fmt.Sprintf("%d TIME_WAIT sockets", count), func(ss testnet.Sockets) bool {
		return countState(ss, "time_wait") == count
	}); err != nil {
		b.Fatal(err)
	}
}

func countTimeWait(b *testing.B, n *testnet.Net) int {
	b.Helper()
	ss, err := n.Local.Sockets()
	if err != nil {
		b.Fatal(err)
	}
	return countState(ss, "time_wait")
}

func countState(ss testnet.Sockets, state string) int {
	k := 0
	for _, s := range ss {
		if s.State == state && s.Local.Port() == 7000 {
			k++
		}
	}
	return k
}
