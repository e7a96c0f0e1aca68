package sockdiag

import (
	"runtime"
	"testing"
)

// TestWorkers: before Linux 6.9 sock_diag ran its handlers under one mutex:
// one socket destroys; from 6.9, one per CPU, at most maxDestroyers; or as
// many as asked for.
func TestWorkers(t *testing.T) {
	for _, tc := range []struct {
		release Release
		wanted  int
		want    int
	}{
		{Release{6, 1}, 0, 1},
		{Release{6, 9}, 0, min(runtime.NumCPU(), maxDestroyers)},
		{Release{6, 1}, 3, 3},
	} {
		c := &Conn{release: tc.release, workersWanted: tc.wanted}
		if got := c.workers(); got != tc.want {
			t.Errorf("%v, %d asked for: %d workers, want %d", tc.release, tc.wanted, got, tc.want)
		}
	}
}
