package host

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procRoot is where the process tree is read; tests point it elsewhere.
var procRoot = "/proc"

// maxAncestors bounds a walk up the process tree.
const maxAncestors = 64

// Limits on the /proc files read about a process.
const (
	statLimit    = 4 << 10
	environLimit = 1 << 20 // the kernel caps an environment near this too
)

// Parent returns the parent of process pid, from /proc/PID/stat, whose
// second field (the command name, in parentheses) may itself hold spaces
// and parentheses.
func Parent(pid int) (int, error) {
	b, err := readSmall(fmt.Sprintf("%s/%d/stat", procRoot, pid), statLimit)
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat is too short", pid)
	}
	return strconv.Atoi(fields[1])
}

// Getenv returns the value of variable name in the environment process pid
// started with, and whether it has it.
func Getenv(pid int, name string) (string, bool) {
	b, err := readSmall(fmt.Sprintf("%s/%d/environ", procRoot, pid), environLimit)
	if err != nil {
		return "", false
	}
	prefix := []byte(name + "=")
	for kv := range bytes.SplitSeq(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v), true
		}
	}
	return "", false
}

// AncestorEnv returns variable name from tcpreap's own environment or, when
// it is not there (sudo clears SSH_CONNECTION), from the nearest ancestor
// process that has it; "" when none has.
func AncestorEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	pid := os.Getpid()
	for range maxAncestors {
		ppid, err := Parent(pid)
		if err != nil || ppid <= 1 {
			return ""
		}
		pid = ppid
		if v, ok := Getenv(pid, name); ok && v != "" {
			return v
		}
	}
	return ""
}
