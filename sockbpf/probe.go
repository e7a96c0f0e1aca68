package sockbpf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
)

// The capabilities loading the programs needs (include/uapi/linux/capability.h).
const (
	capSysAdmin = 21 // CAP_SYS_ADMIN
	capPerfmon  = 38 // CAP_PERFMON
	capBPF      = 39 // CAP_BPF
)

// btfPath is where the kernel publishes its BTF.
const btfPath = "/sys/kernel/btf/vmlinux"

// Probe says whether this host offers the bpf engine: nil, or an
// *UnavailableError that says why not. It loads the programs and attaches
// the iterators, as Open does, once per process; it reaches no socket.
func Probe() error { return probeOnce() }

var probeOnce = sync.OnceValue(func() error {
	d, err := Open(1)
	if err != nil {
		return err
	}
	return d.Close()
})

// prerequisites checks what can be seen before loading: the kernel's BTF
// and the process's effective capabilities.
func prerequisites() error {
	if _, err := os.Stat(btfPath); err != nil {
		return &UnavailableError{Why: ErrNoBTF, Err: err}
	}
	eff, err := effectiveCaps()
	if err != nil {
		return nil // the load says what is missing
	}
	if !capable(eff) {
		return &UnavailableError{Why: ErrNoPrivilege}
	}
	return nil
}

// capable reports whether an effective capability set may load the
// programs.
func capable(eff uint64) bool {
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	return has(capSysAdmin) || has(capBPF) && has(capPerfmon)
}

// effectiveCaps reads CapEff of /proc/self/status.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

// unavailable maps a load or attach error to what the caller can act on.
func unavailable(err error) error {
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		return &UnavailableError{Why: ErrKernelTooOld, Err: fmt.Errorf("kernel %s: %w", release(), err)}
	case errors.Is(err, syscall.EPERM):
		return &UnavailableError{Why: ErrNoPrivilege, Err: err}
	}
	return fmt.Errorf("sockbpf: loading the socket iterators: %w", err)
}

// release is the kernel's release, as uname -r says it.
func release() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "(unknown release)"
	}
	return strings.TrimSpace(string(b))
}
