package host

import (
	"bufio"
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

// statLimit bounds /proc/PID/stat, a line of a few hundred bytes.
const statLimit = 4 << 10

// envStringLimit bounds one NAME=value string of an environment: the kernel
// allows none longer than MAX_ARG_STRLEN (32 pages, 128 KiB). The
// environment as a whole is read as a stream, however large it is.
const envStringLimit = 128 << 10

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
// started with, and whether it has it. It reads /proc/PID/environ as a
// stream of NUL-terminated strings, in memory bounded by one string.
func Getenv(pid int, name string) (string, bool) {
	f, err := os.Open(fmt.Sprintf("%s/%d/environ", procRoot, pid))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4<<10), envStringLimit+1)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	prefix := []byte(name + "=")
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), prefix); ok {
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
		if v, ok := Getenv(pid, name); ok {
			return v // the nearest ancestor that has it, even empty
		}
	}
	return ""
}
