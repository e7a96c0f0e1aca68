package kill_test

import (
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestSummarize(t *testing.T) {
	var results []kill.Result
	for a, n := range map[inet.Action]int{inet.WouldKill: 1, inet.Killed: 2, inet.Gone: 3, inet.Failed: 4, inet.Skipped: 5} {
		for range n {
			s := socket(sockdiag.Established, 1, 1)
			results = append(results, kill.Result{Socket: &s, Action: a})
		}
	}
	want := inet.Summary{Matched: 15, WouldKill: 1, Killed: 2, Gone: 3, Failed: 4, Skipped: 5}
	if got := inet.Summarize(results); got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
}

func TestActionNames(t *testing.T) {
	for a, want := range map[inet.Action]string{inet.WouldKill: "would_kill", inet.Killed: "killed", inet.Gone: "gone", inet.Failed: "failed", inet.Skipped: "skipped"} {
		if a.String() != want {
			t.Errorf("action %d is %q, want %q", a, a, want)
		}
	}
}
