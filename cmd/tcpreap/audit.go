package main

import (
	"fmt"
	"log/syslog"
	"os"
	"os/user"
	"strconv"
	"strings"

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
	return w.Notice(auditLine(args, sum))
}

func auditLine(args []string, sum kill.Summary) string {
	who := "uid=" + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		who = "user=" + u.Username + " " + who
	}
	if s := os.Getenv("SUDO_USER"); s != "" {
		who += " sudo_user=" + s
	}
	if s := sshConnection(os.Getpid()); s != "" {
		who += fmt.Sprintf(" ssh=%q", s)
	}
	if ns, err := os.Readlink("/proc/self/ns/net"); err == nil {
		who += " netns=" + ns
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
