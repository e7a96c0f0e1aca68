package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationDeployAnsibleNoHost: reap.sh with a host pattern that matches no host of
// the inventory (a typo on call) did nothing and said so only in Ansible's warning, with
// exit 0, the code of "every host answered". It must fail with a sentence.
func TestIntegrationDeployAnsibleNoHost(t *testing.T) {
	if _, err := exec.LookPath("ansible"); err != nil {
		t.Fatal("ansible is missing: make deps installs ansible-core")
	}
	work := t.TempDir()
	inventory := filepath.Join(work, "fleet.ini")
	if err := os.WriteFile(inventory, []byte("[fleet]\nhost-a ansible_connection=local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join(deployDir, "ansible", "reap.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "flet", "-n", "--state", "close_wait")
	cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY="+inventory, "ANSIBLE_BECOME=false", "TCPREAP="+bin,
		"TCPREAP_RESULTS="+filepath.Join(work, "results"), "HOME="+work, "ANSIBLE_LOCAL_TEMP="+filepath.Join(work, "tmp"), "ANSIBLE_NOCOLOR=1")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	t.Logf("reap.sh:\n%s", out)
	if err == nil || !strings.Contains(string(out), "no host") {
		t.Errorf("reap.sh with a pattern that matches no host: %v; want a failure that says no host answered", err)
	}
}
