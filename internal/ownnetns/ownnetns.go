// Package ownnetns runs a package's tests, as root, in a network namespace
// of their own (unshare --net), with its loopback up: unit tests that reach
// the real kernel must never touch a socket of the machine. Tests call Main
// from their TestMain.
package ownnetns

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Env marks a test binary that runs in a network namespace of its own.
const Env = "TCPREAP_UNIT_NETNS"

// Main runs the tests: as root, again in a new network namespace; else, or
// once there, as they are. It does not return.
func Main(m *testing.M) {
	if os.Geteuid() != 0 || os.Getenv(Env) != "" {
		os.Exit(m.Run())
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), Env+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run the tests in a network namespace of their own: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Inside reports whether the tests run in a network namespace of their own.
func Inside() bool { return os.Getenv(Env) != "" }
