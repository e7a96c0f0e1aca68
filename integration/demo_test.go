package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationDemo: make demo's program runs to its end, reaps the leak
// and the TIME_WAIT sockets, and shows the audit line of each destroying run
// once at the end, from a syslog socket of its own: no warning that no
// system logger took them, where the demo runs without one.
func TestIntegrationDemo(t *testing.T) {
	if err := testnet.CheckRoot(); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./demo", bin)
	// As make demo runs it, from a shell that may name a logger of its own.
	cmd.Env = append(cmd.Environ(), "TCPREAP_SYSLOG_SOCKET=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the demo: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "warning") {
		t.Errorf("the demo printed a warning:\n%s", text)
	}
	for _, want := range []string{"3 sockets matched: 3 destroyed", "2 sockets matched: 2 destroyed", "still carry data",
		`command="` + bin + ` --state close_wait --port postgresql" matched=3 killed=3`,
		`command="` + bin + ` --state time_wait" matched=2 killed=2`} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output has no %q:\n%s", want, text)
		}
	}
}
