package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// runLauncher is `bench launch TOOL [ARG…]`, which the bench starts in a population's
// namespace to run one tool and measure it: the tool's wall time, from fork to wait4,
// wait4's ru_maxrss for it and its user and system CPU time (ru_utime, ru_stime:
// every thread's, the kernel's work in its syscalls included), written with its exit
// code as one line "NANOSECONDS MAXRSS-KIB EXIT-CODE USER-NS SYSTEM-NS" on descriptor 3. The tool has the launcher's stdin,
// stdout and stderr.
//
// ru_maxrss is the peak RSS of the process, and the kernel counts in it the image a
// process had before its exec: a tool forked by the bench itself, which holds
// whole populations in memory, would read as large as the bench. The launcher is small,
// so the tools it forks read what they used (and never less than the launcher's own
// image, which the report gives as what a program that does nothing reads).
func runLauncher(argv []string) {
	report := os.NewFile(3, "report")
	if len(argv) == 0 || report == nil {
		fmt.Fprintln(os.Stderr, "usage: bench launch TOOL [ARG…] 3>REPORT")
		os.Exit(2)
	}
	// The tool dies with the thread that forked it (PR_SET_PDEATHSIG): this one, which
	// lives until the tool has exited.
	runtime.LockOSThread()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "bench launch: %v\n", err)
		os.Exit(1)
	}
	cmd.Wait() // the exit code goes in the report
	elapsed := time.Since(t0)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Fprintf(report, "%d %d %d %d %d\n", elapsed.Nanoseconds(), ru.Maxrss, cmd.ProcessState.ExitCode(),
		time.Duration(ru.Utime.Nano()).Nanoseconds(), time.Duration(ru.Stime.Nano()).Nanoseconds())
}
