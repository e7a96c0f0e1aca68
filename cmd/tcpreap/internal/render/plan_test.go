package render

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/reap"
)

func TestPlanSummary(t *testing.T) {
	plan := testPlan()
	got := PlanSummary(plan.Breakdown(), len(plan.Targets), len(plan.Skipped), []reap.SpaceCount{{Targets: 3}})
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

// TestPlanSummaryNamespaces: the confirmation says in which namespaces the
// sockets are when they are not tcpreap's own alone.
func TestPlanSummaryNamespaces(t *testing.T) {
	plan := testPlan()
	if got := PlanSummary(plan.Breakdown(), 3, 0, []reap.SpaceCount{{Targets: 3}}); strings.Contains(got, "namespace") {
		t.Errorf("tcpreap's own namespace alone is named:\n%s", got)
	}
	got := PlanSummary(plan.Breakdown(), 3, 0, []reap.SpaceCount{{NetNS: "web1", Targets: 2}, {NetNS: "pid:4711 (nginx)", Targets: 1}, {NetNS: "empty", Targets: 0}})
	for _, want := range []string{"2 in network namespace web1\n", "1 in network namespace pid:4711 (nginx)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "empty") {
		t.Errorf("a namespace with no target is named:\n%s", got)
	}
}

// TestPlanWritten: what plan says on stderr of the file it wrote.
func TestPlanWritten(t *testing.T) {
	for _, tt := range []struct {
		targets, skipped int
		spaces           []reap.SpaceCount
		path, want       string
	}{
		{4, 0, []reap.SpaceCount{{Targets: 4}}, "/tmp/reap.plan",
			"tcpreap: 4 sockets planned: 4 to destroy, 0 skipped; written to /tmp/reap.plan (review it: tcpreap apply -n /tmp/reap.plan)"},
		{1, 1, []reap.SpaceCount{{NetNS: "web1", Targets: 1}}, "",
			"tcpreap: 2 sockets planned in network namespace web1: 1 to destroy, 1 skipped; the plan file is on stdout"},
		{0, 0, []reap.SpaceCount{{NetNS: "pid:1 (systemd)"}, {NetNS: "web1"}}, "/tmp/a plan",
			"tcpreap: 0 sockets planned in 2 network namespaces: 0 to destroy, 0 skipped; written to /tmp/a plan (review it: tcpreap apply -n '/tmp/a plan')"},
		{3, 0, []reap.SpaceCount{{Targets: 3}}, "/dev/null",
			"tcpreap: 3 sockets planned: 3 to destroy, 0 skipped; stdout is /dev/null: no plan file was kept (give a file: tcpreap plan ... > reap.plan)"},
	} {
		if got := PlanWritten(tt.targets, tt.skipped, tt.spaces, tt.path); got != tt.want {
			t.Errorf("PlanWritten:\n%s\nwant:\n%s", got, tt.want)
		}
	}
}
