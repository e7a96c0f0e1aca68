package testnet

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// netnsDir is where ip netns keeps the names of network namespaces.
const netnsDir = "/run/netns"

// ownName is the name Setup and NewRouted give a host: tcpreap-<pid of the
// test binary>-<n>-<letter>.
var ownName = regexp.MustCompile(`^tcpreap-([0-9]+)-[0-9]+-[a-z]$`)

// SweepOrphans deletes the network namespaces a test binary made and left
// behind when it died without its cleanups (a go test timeout panics and
// runs none): those named as Setup names them, by a process that no longer
// exists, with no process inside. A namespace of a test binary that still
// runs, here or in a parallel run, is never touched. It returns the names
// it deleted.
func SweepOrphans() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var swept []string
	var errs []error
	for _, e := range entries {
		if !orphan(e.Name()) {
			continue
		}
		out, err := exec.Command("ip", "netns", "pids", e.Name()).Output()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			continue // a process lives in it, or it cannot be told
		}
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			errs = append(errs, errors.New(strings.TrimSpace(string(out))))
			continue
		}
		swept = append(swept, e.Name())
	}
	return swept, errors.Join(errs...)
}

// orphan says whether name is a test host's whose maker no longer runs.
func orphan(name string) bool {
	m := ownName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
