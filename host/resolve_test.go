package host

import (
	"context"
	"testing"
	"time"
)

// TestResolve: localhost comes from /etc/hosts, without a network.
func TestResolve(t *testing.T) {
	addrs, err := Resolve(t.Context(), "localhost")
	if err != nil {
		t.Skip("localhost does not resolve here:", err)
	}
	for i, a := range addrs {
		if !a.IsLoopback() || i > 0 && addrs[i-1].Compare(a) >= 0 {
			t.Errorf("addresses %v: want sorted loopback addresses without repeats", addrs)
		}
	}
}

// TestResolveHasADeadline: a caller's context that is already over ends the
// lookup at once.
func TestResolveHasADeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, err := Resolve(ctx, "db1.example"); err == nil {
		t.Error("a canceled lookup returned addresses")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a canceled lookup took %v", d)
	}
}
