package kill_test

import (
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestSummarize(t *testing.T) {
	var results []kill.Result
	for a, n := range map[kill.Action]int{kill.WouldKill: 1, kill.Killed: 2, kill.Gone: 3, kill.Failed: 4, kill.Skipped: 5} {
		for range n {
			s := socket(sockdiag.Established, 1, 1)
			results = append(results, kill.Result{Socket: &s, Action: a})
		}
	}
	want := kill.Summary{Matched: 15, WouldKill: 1, Killed: 2, Gone: 3, Failed: 4, Skipped: 5}
	if got := kill.Summarize(results); got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
}

func TestActionNames(t *testing.T) {
	for a, want := range map[kill.Action]string{kill.WouldKill: "would_kill", kill.Killed: "killed", kill.Gone: "gone", kill.Failed: "failed", kill.Skipped: "skipped"} {
		if a.String() != want {
			t.Errorf("action %d is %q, want %q", a, a, want)
		}
	}
}
