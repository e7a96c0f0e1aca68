package main

import "testing"

// The standard population: its counts, every socket distinct, and a peer
// that holds about 1/200 of the sockets and no TIME_WAIT one.
func TestStandardPopulation(t *testing.T) {
	if err := standard.check(); err != nil {
		t.Fatal(err)
	}
	all := standard.sockets()
	if len(all) != 190030 {
		t.Errorf("%d sockets, want 190,030", len(all))
	}
	n := map[string]int{}
	for k := range all {
		n[k.state]++
	}
	want := map[string]int{"LISTEN": 30, "ESTAB": 40000, "CLOSE-WAIT": 50000, "FIN-WAIT-2": 50000, "TIME-WAIT": 50000}
	for st, c := range want {
		if n[st] != c {
			t.Errorf("%d %s, want %d", n[st], st, c)
		}
	}
	fromThePeer := all.without(func(k sock) bool { return !fromPeer(k) })
	if len(fromThePeer) != 875 {
		t.Errorf("%d sockets with the peer, want 875", len(fromThePeer))
	}
	for k := range fromThePeer {
		if k.state == "TIME-WAIT" {
			t.Errorf("the peer holds a TIME_WAIT socket (ss -K dst would leave it, tcpreap would not): %v", k)
		}
	}
	// The same shape, the same sockets.
	again := standard.sockets()
	if d := diff(all, again); !d.none() {
		t.Errorf("two computations of the population differ: %s", d)
	}
}

func TestHeldFiles(t *testing.T) {
	// One process may hold 20,000 files on the machine the benchmark runs on.
	if n := standard.heldFiles(); n > 20000 {
		t.Errorf("a worker holds up to %d files", n)
	}
	if n := bigTimeWait.heldFiles(); n > 20000 {
		t.Errorf("a worker of the 250,000 TIME_WAIT population holds up to %d files", n)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 190030: "190,030", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
