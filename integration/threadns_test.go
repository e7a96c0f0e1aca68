package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// The test binary is also the helper that TestIntegrationAllNetNSThreads runs in the
// sandbox: with threadNetNSEnv set to a port, it makes a network namespace that only
// one of its threads is in (unshare on a locked thread, as Go programs and CNI plugins
// do), listens on that port there, writes the file threadNetNSReadyEnv names and waits
// to be killed. No process has that namespace as its own, and no name reaches it.
const (
	threadNetNSEnv      = "TCPREAP_INTEGRATION_THREAD_NETNS_PORT"
	threadNetNSReadyEnv = "TCPREAP_INTEGRATION_THREAD_NETNS_READY"
)

func holdThreadNetNS(port, ready string) int {
	// The main goroutine keeps the main thread, whose namespace is the process's
	// (/proc/PID/ns/net): the other goroutine unshares on another thread.
	runtime.LockOSThread()
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread is in another namespace until the process ends.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare: %w", err)
			return
		}
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		l, err := lc.Listen(context.Background(), "tcp", ":"+port)
		if err != nil {
			done <- err
			return
		}
		defer l.Close()
		done <- nil
		select {}
	}()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "thread netns helper:", err)
		return 1
	}
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "thread netns helper:", err)
		return 1
	}
	select {}
}
