package kill

import "testing"

// KernelBefore6 makes the test see a kernel before 6.0, which cannot destroy
// timewait sockets.
func KernelBefore6(t *testing.T) {
	old := timeWaitDestroyable
	timeWaitDestroyable = false
	t.Cleanup(func() { timeWaitDestroyable = old })
}
