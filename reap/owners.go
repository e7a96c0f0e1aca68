package reap

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/host"
)

// maxCommandLen is the longest command name a process has: the kernel's
// comm holds 15 bytes.
const maxCommandLen = 15

// maxPatternLen bounds a pattern of command names.
const maxPatternLen = 256

// everyName are command names of every shape a process may have (one
// character of each kind, a kernel thread's, a name in parentheses): a
// pattern that matches all of them, as ".", ".+" or "\S" do, is taken to
// match every name.
var everyName = []string{"a", "Z", "0", "_", "-", ".", "/", ":", "+", "~", "@", "(", "é", "kworker/0:1", "(sd-pam)"}

// ParsePatterns reads regular expressions of command names (Go's RE2
// syntax), each 1 to 256 bytes; one that matches every name (the empty
// name, or every name of everyName) is no selection and refused, and so
// are patterns that do so together ("^[a-m]" and "^[^a-m]"): they are
// alternatives, and select every process as one catch-all would. An error
// starts with the word.
func ParsePatterns(words []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, w := range words {
		if w == "" || len(w) > maxPatternLen {
			return nil, fmt.Errorf("%q: give a regular expression of 1 to %d bytes", w, maxPatternLen)
		}
		re, err := regexp.Compile(w)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", w, err)
		}
		if catchAll(re) {
			return nil, fmt.Errorf("%q matches every command name; anchor it (^name$) or give the name itself", w)
		}
		out = append(out, re)
	}
	if len(out) > 1 && catchAll(out...) {
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = strconv.Quote(w)
		}
		return nil, fmt.Errorf("%s together match every command name; anchor them (^name$) or give the names themselves", strings.Join(quoted, ", "))
	}
	return out, nil
}

// catchAll reports whether the patterns res, alternatives, select every
// process: one of them matches the empty name, or each name of everyName
// or the command name of each process running now is matched by one.
func catchAll(res ...*regexp.Regexp) bool {
	match := func(n string) bool {
		for _, re := range res {
			if re.MatchString(n) {
				return true
			}
		}
		return false
	}
	every := func(names []string) bool {
		for _, n := range names {
			if !match(n) {
				return false
			}
		}
		return true
	}
	if match("") || every(everyName) {
		return true
	}
	procs, err := host.AllProcesses()
	if err != nil || len(procs) < 2 {
		return false
	}
	names := make([]string, len(procs))
	for i, p := range procs {
		names[i] = p.Command
	}
	return every(names)
}

// A CommaError is a command name with commas that no running process has:
// a name is one word, commas and all, and this one is most likely a list
// (Names), which would select nothing.
type CommaError struct {
	Word  string
	Names []string
}

func (e *CommaError) Error() string {
	return fmt.Sprintf("%q: no process has that name, and a name is one word, commas and all", e.Word)
}

// A ThreadError is a process id that is a thread's: file descriptors, and
// so sockets, are its process's, and it would select nothing.
type ThreadError struct {
	TID, PID int    // the thread, and the process it is of
	Command  string // the process's command name
}

func (e *ThreadError) Error() string {
	return fmt.Sprintf("%d is a thread of process %d (%s), which holds its sockets", e.TID, e.PID, e.Command)
}

// ParsePIDs reads process ids, each of a process that exists now; a
// thread's id is a *ThreadError. An error starts with the word.
func ParsePIDs(words []string) ([]int, error) {
	var out []int
	for _, w := range words {
		pid, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q: give a process id, a number above 0", w)
		}
		if _, err := host.ReadProcess(pid); err != nil {
			return nil, fmt.Errorf("%d: no such process", pid)
		}
		if tgid, err := host.ThreadGroup(pid); err == nil && tgid != pid {
			p, _ := host.ReadProcess(tgid)
			return nil, &ThreadError{TID: pid, PID: tgid, Command: p.Command}
		}
		out = append(out, pid)
	}
	return out, nil
}

// ParseCommands reads command names, as ps -o comm shows them: 1 to 15
// bytes, the most the kernel keeps; a name with commas that no running
// process has is a *CommaError. An error starts with the word.
func ParseCommands(words []string) ([]string, error) {
	var procs []host.Process
	for _, w := range words {
		if strings.Contains(w, ",") {
			// A name is one word, commas and all: one with commas that no
			// process has is most likely a list, which would select nothing.
			if procs == nil {
				procs, _ = host.AllProcesses()
			}
			if procs != nil && !slices.ContainsFunc(procs, func(p host.Process) bool { return p.Command == w }) {
				return nil, &CommaError{Word: w, Names: strings.Split(w, ",")}
			}
		}
		switch {
		case w == "":
			return nil, fmt.Errorf("%q: give a command name", w)
		case len(w) > maxCommandLen:
			return nil, fmt.Errorf("%q: a process's command name is at most %d bytes (the kernel cuts it: ps -o comm shows %q)",
				w, maxCommandLen, w[:maxCommandLen])
		}
	}
	return words, nil
}

// ParseCgroups reads cgroup v2 groups, each a path in the hierarchy or a
// directory under its mount, into the ids the kernel gives sockets. Groups
// that together hold every running process (the hierarchy's root, where a
// container keeps all it runs) are no selection and refused, as a pattern
// matching every command name is.
func ParseCgroups(words []string) ([]uint64, error) {
	var out []uint64
	for _, w := range words {
		w = strings.TrimSpace(w)
		if w == "" {
			return nil, errors.New("give a cgroup's path, as /proc/PID/cgroup shows it after 0::")
		}
		id, err := host.CgroupID(w)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, nil
	}
	inUse, procs, err := host.CgroupsInUse()
	if err != nil || procs < 2 {
		return out, nil
	}
	for _, id := range inUse {
		if !slices.Contains(out, id) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s holds every process running here, so it selects every socket; name a group below it (systemd-cgls shows them), or give --all instead", strings.Join(words, ", "))
}
