package host

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
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

// A Process is one process as /proc/PID/stat shows it.
type Process struct {
	PID, PPID int
	Command   string // comm: the executable's name, at most 15 bytes
}

// ReadProcess reads process pid from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself hold spaces and
// parentheses.
func ReadProcess(pid int) (Process, error) {
	b, err := readSmall(fmt.Sprintf("%s/%d/stat", procRoot, pid), statLimit)
	if err != nil {
		return Process{}, err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[end+1:])
	if open < 0 || end < open || len(fields) < 2 {
		return Process{}, fmt.Errorf("/proc/%d/stat does not read as a process", pid)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return Process{}, fmt.Errorf("/proc/%d/stat: parent %q: %w", pid, fields[1], err)
	}
	return Process{PID: pid, PPID: ppid, Command: s[open+1 : end]}, nil
}

// statusLimit bounds /proc/PID/status, some fifty short lines.
const statusLimit = 16 << 10

// ThreadGroup returns the process that thread id is a thread of (its Tgid
// in /proc/ID/status): id itself when id is a process. /proc answers for a
// thread id as for a process, though it lists only processes.
func ThreadGroup(id int) (int, error) {
	b, err := readSmall(fmt.Sprintf("%s/%d/status", procRoot, id), statusLimit)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no Tgid", id)
}

// parentOf returns the parent of process pid.
func parentOf(pid int) (int, error) {
	p, err := ReadProcess(pid)
	return p.PPID, err
}

// ancestors returns tcpreap's parent, its parent's parent, and so on up to
// but not including init (pid 1), at most maxAncestors of them.
func ancestors() []Process { return ancestorsOf(os.Getpid()) }

// ancestorsOf returns the ancestors of process pid, nearest first, up to but
// not including init.
func ancestorsOf(pid int) []Process {
	var out []Process
	for range maxAncestors {
		p, err := ReadProcess(pid)
		if err != nil || p.PPID <= 1 {
			return out
		}
		parent, err := ReadProcess(p.PPID)
		if err != nil {
			return out
		}
		out = append(out, parent)
		pid = parent.PID
	}
	return out
}

// processes returns every process whose command is one of commands (every
// process, with none), by one read of each /proc/PID/stat.
func processes(commands ...string) ([]Process, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := ReadProcess(pid); err == nil && (len(commands) == 0 || slices.Contains(commands, p.Command)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// getenvs returns the variables among names that the environment process pid
// started with has. It reads /proc/PID/environ once, as a stream of
// NUL-terminated strings, in memory bounded by one string.
func getenvs(pid int, names []string) map[string]string {
	f, err := os.Open(fmt.Sprintf("%s/%d/environ", procRoot, pid))
	if err != nil {
		return nil
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
	found := map[string]string{}
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte("="))
		if _, seen := found[string(k)]; ok && !seen && slices.Contains(names, string(k)) {
			found[string(k)] = string(v)
		}
	}
	return found
}

// ancestorEnv returns variable name from tcpreap's own environment or, when
// it is not there (sudo clears SSH_CONNECTION), from the nearest ancestor
// process that has it; "" when none has.
func ancestorEnv(name string) string { return ancestorEnvs(name)[name] }

// ancestorEnvs is ancestorEnv for several variables at once, with one read of
// each ancestor's environment: the value of each of names, "" for none.
func ancestorEnvs(names ...string) map[string]string {
	out := map[string]string{}
	var want []string
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			out[name] = v
		} else {
			want = append(want, name)
		}
	}
	pid := os.Getpid()
	for range maxAncestors {
		if len(want) == 0 {
			break
		}
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			break
		}
		pid = ppid
		found := getenvs(pid, want)
		want = slices.DeleteFunc(want, func(name string) bool {
			v, ok := found[name]
			out[name] = v // the nearest ancestor that has it, even empty
			return ok
		})
	}
	return out
}

// threads returns the ids of the threads of process pid other than its
// first (whose id is pid); none when they cannot be listed (it exited).
func threads(pid int) []int {
	entries, err := os.ReadDir(fmt.Sprintf("%s/%d/task", procRoot, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil && tid != pid {
			out = append(out, tid)
		}
	}
	return out
}
