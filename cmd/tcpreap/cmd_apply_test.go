package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestApplyKeepsTheTimer is the bug the plan file's own format fixed: a
// FIN_WAIT2 socket with the timewait timer, planned then applied, must still
// read as a timewait socket, so the confirmation does not promise the peer a
// reset it will not get.
func TestApplyKeepsTheTimer(t *testing.T) {
	here, err := host.Here()
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	tw := testPlan().Targets[0]
	tw.State, tw.Timer = sockdiag.FinWait2, 3
	var file bytes.Buffer
	if err := planfile.Write(&file, &planfile.File{Parts: []planfile.Part{{Namespace: planfile.NamespaceOf(nil, here), Plan: &kill.Plan{Targets: []sockdiag.Socket{tw}}}}}, here); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reap.plan")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := readPlanFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := f.Parts[0].Plan
	summary := render.PlanSummary(plan.Breakdown(), len(plan.Targets), len(plan.Skipped), nil)
	if !strings.Contains(summary, "1 tcp FIN-WAIT-2: no reset to the peer") {
		t.Errorf("the confirmation of the applied plan says:\n%s", summary)
	}
	// The same file from stdin.
	if f, err := readPlanFile("-", bytes.NewReader(file.Bytes())); err != nil || f.Parts[0].Plan.Targets[0].Timer != 3 {
		t.Errorf("from stdin: %v", err)
	}
}

func TestApplyRefusesWithUsageErrors(t *testing.T) {
	dir := t.TempDir()
	edited := filepath.Join(dir, "edited.plan")
	if err := os.WriteFile(edited, []byte(`{"plan":{"version":2}}`+"\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		filepath.Join(dir, "none"): "plan file " + filepath.Join(dir, "none") + ": there is no such file (tcpreap plan writes one); nothing was destroyed",
		"/dev/null":                "plan file /dev/null: it is not a file that tcpreap plan wrote but a character device; nothing was destroyed",
		edited:                     "plan file " + edited + ": ",
	} {
		_, err := readPlanFile(name, nil)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error with %q", name, err, want)
		}
	}
}

// TestApplyTakesNoSelector: each selector of the root given to apply is
// refused, never ignored.
func TestApplyTakesNoSelector(t *testing.T) {
	for _, name := range []string{"state", "port", "local-port", "remote-port", "local", "interface"} {
		code, _, stderr := runCLI("apply", "--"+name, "x", "plan")
		if code != exitUsage || !strings.Contains(stderr, "apply takes no --"+name+" (apply destroys what the plan file holds") {
			t.Errorf("apply --%s: exit %d, stderr %q", name, code, stderr)
		}
	}
}
