package reap_test

import (
	"fmt"
	"testing"

	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockfd"
	"golang.org/x/sys/unix"
)

func TestParseEngine(t *testing.T) {
	for _, w := range []string{"auto", "diag", "fd"} {
		if got, err := reap.ParseEngine(w); err != nil || got != w {
			t.Errorf("ParseEngine(%q) = %q, %v", w, got, err)
		}
		if err := reap.Offered(w); err != nil {
			t.Errorf("Offered(%q): %v; this kernel offers every engine", w, err)
		}
	}
	for _, w := range []string{"", "nosuch", "FD", "fd "} {
		if _, err := reap.ParseEngine(w); err == nil {
			t.Errorf("ParseEngine(%q) took it", w)
		}
	}
}

// TestOtherEngine: the answers of the fd and bpf engines that SOCK_DESTROY does better
// name diag; the others, and diag's own, name none.
func TestOtherEngine(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{sockfd.ErrNoHolder, "diag"},
		{fmt.Errorf("%w: %w", sockfd.ErrBlocked, unix.EBUSY), "diag"},
		{sockfd.ErrPtrace, ""},
		{sockfd.ErrSubflowsOutside, ""},
		{sockdiag.ErrNoDestroy, ""},
		{nil, ""},
	} {
		if got := reap.OtherEngine(c.err); got != c.want {
			t.Errorf("OtherEngine(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
