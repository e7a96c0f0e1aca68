package main

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

// auditSocketEnv names a syslog socket to use instead of the system's
// (/dev/log); the tests point it at a listener of their own.
const auditSocketEnv = "TCPREAP_SYSLOG_SOCKET"

// syslogSocket is where the system logger (rsyslog, systemd-journald) takes
// local messages.
const syslogSocket = "/dev/log"

// auditTimeout bounds the wait for the system logger: a stalled logger with
// a full queue blocks a write to its socket for ever, and tcpreap must not
// hang after it destroyed.
const auditTimeout = 2 * time.Second

// auditPriority is authpriv.notice (LOG_AUTHPRIV | LOG_NOTICE), which
// journald and rsyslog keep.
const auditPriority = 10<<3 | 5

// audit writes one line to syslog for a run that destroyed: who ran it, the
// command line, and the counts, waiting at most auditTimeout. Its error is
// a sentence that says what to do.
func audit(args []string, sum inet.Summary) error {
	path := os.Getenv(auditSocketEnv)
	if path == "" {
		path = syslogSocket
	}
	msg := fmt.Sprintf("<%d>%s tcpreap[%d]: %s\n", auditPriority, time.Now().Format(time.Stamp), os.Getpid(), auditLine(host.Who(), args, sum))
	var err error
	for _, network := range []string{"unixgram", "unix"} {
		var c net.Conn
		if c, err = net.DialTimeout(network, path, auditTimeout); err != nil {
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(auditTimeout))
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
		return fmt.Errorf("the system logger on %s did not take the line within %v (is it stalled?)", path, auditTimeout)
	}
	return fmt.Errorf("cannot write to the system logger on %s: %v", path, err)
}

// auditLine is the record: every field that comes from the environment or
// a file is quoted, so that no value can forge a field or a second line.
func auditLine(op host.Operator, args []string, sum inet.Summary) string {
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
	if op.NetNS != "" {
		who += fmt.Sprintf(" netns=%q", op.NetNS)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\"'\\") || strconv.Quote(a) != `"`+a+`"` {
			quoted[i] = strconv.Quote(a)
		}
	}
	return fmt.Sprintf("%s command=%q matched=%d killed=%d gone=%d failed=%d skipped=%d",
		who, clip(strings.Join(quoted, " "), 1024), sum.Matched, sum.Killed, sum.Gone, sum.Failed, sum.Skipped)
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
