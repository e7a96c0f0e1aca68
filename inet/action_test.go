package inet

import "testing"

// outcome is a result as Summarize reads it.
type outcome Action

func (o outcome) Outcome() Action { return Action(o) }

func TestSummarize(t *testing.T) {
	var results []outcome
	for a, n := range map[Action]int{WouldKill: 1, Killed: 2, Gone: 3, Failed: 4, Skipped: 5, Pending: 6} {
		for range n {
			results = append(results, outcome(a))
		}
	}
	want := Summary{Matched: 21, WouldKill: 1, Killed: 2, Gone: 3, Failed: 4, Skipped: 5, Pending: 6}
	if got := Summarize(results); got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
}

func TestActionNames(t *testing.T) {
	for a, want := range map[Action]string{WouldKill: "would_kill", Killed: "killed", Gone: "gone", Failed: "failed", Skipped: "skipped", Pending: "pending"} {
		if a.String() != want {
			t.Errorf("action %d is %q, want %q", a, a, want)
		}
	}
}
