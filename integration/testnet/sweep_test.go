package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestSweepOrphans: a namespace named as a dead test binary's, with no
// process in it, is deleted; one named as a live binary's (this one's) is
// kept, and so is one of another name.
func TestSweepOrphans(t *testing.T) {
	if err := CheckRoot(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	orphaned := fmt.Sprintf("tcpreap-%d-9999-a", dead.Process.Pid)
	live := fmt.Sprintf("tcpreap-%d-9999-z", os.Getpid())
	other := fmt.Sprintf("tcpreapx-%d-9999-a", dead.Process.Pid)
	for _, name := range []string{orphaned, live, other} {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	swept, err := SweepOrphans()
	if err != nil {
		t.Fatal(err)
	}
	// The integration tests' own sweep may take the orphan first: that it
	// is gone is what counts.
	if slices.Contains(swept, live) || slices.Contains(swept, other) {
		t.Errorf("swept %v; want neither %s nor %s", swept, live, other)
	}
	for name, want := range map[string]bool{orphaned: false, live: true, other: true} {
		if _, err := os.Stat(netnsDir + "/" + name); (err == nil) != want {
			t.Errorf("%s: there %v, want %v", name, err == nil, want)
		}
	}
}
