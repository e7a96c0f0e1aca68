package render

import (
	"strings"
	"testing"
)

func TestPlanSummary(t *testing.T) {
	plan := testPlan()
	got := PlanSummary(plan.Breakdown(), len(plan.Targets), len(plan.Skipped))
	for _, want := range []string{
		"destroys 3 sockets and keeps back 1",
		"1 tcp ESTAB: the peer gets a reset",
		"1 tcp TIME-WAIT: no reset to the peer",
		"1 tcp CLOSE-WAIT: the peer gets a reset",
		"2 with peer 192.0.2.2",
		"1 with peer 2001:db8::2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
