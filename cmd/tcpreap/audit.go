package main

import (
	"fmt"
	"log/syslog"
	"os"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
)

// auditSocketEnv names a syslog socket to use instead of the system's
// (/dev/log); the tests point it at a listener of their own.
const auditSocketEnv = "TCPREAP_SYSLOG_SOCKET"

// audit writes one line to syslog (authpriv.notice, which journald collects)
// for a run that destroyed: who ran it, the command line, and the counts.
func audit(args []string, sum kill.Summary) error {
	var w *syslog.Writer
	var err error
	const prio = syslog.LOG_AUTHPRIV | syslog.LOG_NOTICE
	if path := os.Getenv(auditSocketEnv); path != "" {
		w, err = syslog.Dial("unixgram", path, prio, "tcpreap")
	} else {
		w, err = syslog.New(prio, "tcpreap")
	}
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Notice(auditLine(host.Who(), args, sum))
}

func auditLine(op host.Operator, args []string, sum kill.Summary) string {
	who := "uid=" + strconv.Itoa(op.UID)
	if op.User != "" {
		who = "user=" + op.User + " " + who
	}
	if op.SudoUser != "" {
		who += " sudo_user=" + op.SudoUser
	}
	if op.SSH != "" {
		who += fmt.Sprintf(" ssh=%q", op.SSH)
	}
	if op.NetNS != "" {
		who += " netns=" + string(op.NetNS)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\"'\\") {
			quoted[i] = strconv.Quote(a)
		}
	}
	return fmt.Sprintf("%s command=%q matched=%d killed=%d gone=%d failed=%d skipped=%d",
		who, strings.Join(quoted, " "), sum.Matched, sum.Killed, sum.Gone, sum.Failed, sum.Skipped)
}
