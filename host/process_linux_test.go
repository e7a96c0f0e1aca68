package host

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestThreadGroup: a thread of this test's own process (a goroutine locked
// to its OS thread) belongs to the process; the process to itself.
func TestThreadGroup(t *testing.T) {
	tids := make(chan int)
	done := make(chan struct{})
	defer close(done)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		<-done
	}()
	tid := <-tids
	if g, err := ThreadGroup(tid); err != nil || g != os.Getpid() {
		t.Errorf("ThreadGroup(thread %d) = %d, %v; want %d", tid, g, err, os.Getpid())
	}
	if g, err := ThreadGroup(os.Getpid()); err != nil || g != os.Getpid() {
		t.Errorf("ThreadGroup(pid %d) = %d, %v", os.Getpid(), g, err)
	}
}
