// Package audit writes tcpreap's record of every run that destroyed or
// deleted: one line to syslog (authpriv.notice) saying who ran it, the
// command line, and the counts, with every field quoted so that no value
// can forge another, and within a deadline, so that a stalled logger never
// holds a run that already acted.
package audit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
)

// SocketEnv names a syslog socket to use instead of the system's
// (/dev/log); the tests point it at a listener of their own.
const SocketEnv = "TCPREAP_SYSLOG_SOCKET"

// Socket is where the system logger (rsyslog, systemd-journald) takes
// local messages.
const Socket = "/dev/log"

// timeout bounds the wait for the system logger: a stalled logger with
// a full queue blocks a write to its socket for ever, and tcpreap must not
// hang after it destroyed.
const timeout = 2 * time.Second

// priority is authpriv.notice (LOG_AUTHPRIV | LOG_NOTICE), which
// journald and rsyslog keep.
const priority = 10<<3 | 5

// Write writes one line to syslog for a run that destroyed: who ran it, the
// command line, the network namespaces it acted in (spaces, as a person
// names them; "" or none for the one tcpreap runs in), the engines that
// acted (none for conntrack, which has none), and the counts, waiting at
// most timeout. Its error is a sentence that says what to do.
func Write(args []string, spaces, engines []string, sum inet.Summary) error {
	path := os.Getenv(SocketEnv)
	if path == "" {
		path = Socket
	}
	msg := fmt.Sprintf("<%d>%s tcpreap[%d]: %s\n", priority, time.Now().Format(time.Stamp), os.Getpid(), record(host.Who(), args, spaces, engines, sum))
	var err error
	for _, network := range []string{"unixgram", "unix"} {
		var c net.Conn
		if c, err = net.DialTimeout(network, path, timeout); err != nil {
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		_, err = c.Write([]byte(msg))
		c.Close()
		break
	}
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("there is no system logger (%s does not exist); start one (rsyslog or systemd-journald), or give --no-audit", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no system logger listens on %s; start one (rsyslog or systemd-journald), or give --no-audit", path)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the system logger on %s did not take the line within %v (is it stalled?)", path, timeout)
	}
	return fmt.Errorf("cannot write to the system logger on %s: %v", path, err)
}

// record is the line: every field that comes from the environment or
// a file is quoted, so that no value can forge a field or a second line.
// netns names the namespaces whose sockets or entries were acted on: the
// one tcpreap runs in by its identity, another as it was given. engine
// names the engines that acted, each a word of tcpreap's own.
func record(op host.Operator, args []string, spaces, engines []string, sum inet.Summary) string {
	who := "uid=" + strconv.Itoa(op.UID)
	if op.User != "" {
		who = fmt.Sprintf("user=%q %s", clip(op.User, 64), who)
	}
	if op.SudoUser != "" {
		who += fmt.Sprintf(" sudo_user=%q", clip(op.SudoUser, 64))
	}
	if op.SSH != "" {
		who += fmt.Sprintf(" ssh=%q", clip(op.SSH, 128))
	}
	if len(spaces) == 0 {
		spaces = []string{""}
	}
	names := make([]string, 0, len(spaces))
	for _, ns := range spaces {
		if ns == "" {
			ns = string(op.NetNS)
		}
		if ns != "" {
			names = append(names, ns)
		}
	}
	if len(names) > 0 {
		who += fmt.Sprintf(" netns=%q", clip(strings.Join(names, ", "), 256))
	}
	if len(engines) > 0 {
		who += " engine=" + strings.Join(engines, ",")
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\"'\\") || strconv.Quote(a) != `"`+a+`"` {
			quoted[i] = strconv.Quote(a)
		}
	}
	line := fmt.Sprintf("%s command=%q matched=%d killed=%d gone=%d failed=%d skipped=%d",
		who, clip(strings.Join(quoted, " "), 1024), sum.Matched, sum.Killed, sum.Gone, sum.Failed, sum.Skipped)
	if sum.Pending > 0 {
		// Destroys the kernel may still carry out.
		line += fmt.Sprintf(" pending=%d", sum.Pending)
	}
	return line
}

// clip bounds a field of the audit line, so that the line always fits one
// datagram of the system logger and no value can push the counts out: what
// is cut is said.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d more bytes)", s[:cut], len(s)-cut)
}
