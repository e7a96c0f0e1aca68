package sockbpf

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
)

func TestCapable(t *testing.T) {
	for _, tc := range []struct {
		eff  uint64
		want bool
	}{
		{0, false},
		{1 << capSysAdmin, true},
		{1<<capBPF | 1<<capPerfmon, true},
		{1 << capBPF, false},
		{1 << capPerfmon, false},
		{1 << 12, false}, // CAP_NET_ADMIN alone
	} {
		if got := capable(tc.eff); got != tc.want {
			t.Errorf("capable(%#x) = %v, want %v", tc.eff, got, tc.want)
		}
	}
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("kfunc bpf_sock_destroy: %w", ebpf.ErrNotSupported), ErrKernelTooOld},
		{fmt.Errorf("map create: %w", syscall.EPERM), ErrNoPrivilege},
	} {
		err := unavailable(tc.err)
		var u *UnavailableError
		if !errors.As(err, &u) || !errors.Is(err, tc.want) || !errors.Is(err, tc.err) {
			t.Errorf("unavailable(%v) = %v, want an UnavailableError for %v", tc.err, err, tc.want)
		}
	}
	if err := unavailable(errors.New("other")); errors.As(err, new(*UnavailableError)) {
		t.Errorf("an unknown load error became %v", err)
	}
}
