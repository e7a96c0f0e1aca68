package reap

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// TestQueryError: a failed dump is said in words and still carries what a
// caller branches on: the errno, and the cause with its sentence.
func TestQueryError(t *testing.T) {
	req := sockdiag.Request{Protocol: inet.TCP, Family: inet.IPv4}
	plain := queryError(&sockdiag.OpError{Op: "dump", Request: req, Err: unix.EPERM})
	var op *sockdiag.OpError
	if !errors.Is(plain, unix.EPERM) || !errors.As(plain, &op) || plain.Error() != "cannot list sockets: dump tcp/ipv4: operation not permitted" {
		t.Errorf("EPERM: %q, want it said and wrapped", plain)
	}
	caused := queryError(&sockdiag.OpError{Op: "dump", Request: req, Err: fmt.Errorf("%w: %w", sockdiag.ErrNoDiag(inet.TCP), unix.ENOENT)})
	why, ok := sockdiag.Explain(caused)
	if !ok || why != sockdiag.ErrNoDiag(inet.TCP).Explain() || !errors.Is(caused, unix.ENOENT) {
		t.Errorf("no tcp_diag: %q (explained %q, %v), want the cause and the errno wrapped", caused, why, ok)
	}
}

// TestPassedOverNotes: the namespaces passed over alike are one note, the
// first ten named and the rest counted; one passed over alone is named as
// such; another why is another note.
func TestPassedOverNotes(t *testing.T) {
	denied := errors.New("entering another network namespace needs CAP_SYS_ADMIN (try sudo): operation not permitted")
	var p passedOver
	for i := range 12 {
		p.add(fmt.Sprintf("pid:%d (sleep)", 100+i), denied)
	}
	p.add("web1", errors.New("something else"))
	got := p.notes()
	want := []string{
		"warning: 12 network namespaces were passed over (" + denied.Error() + "): pid:100 (sleep), pid:101 (sleep), pid:102 (sleep), " +
			"pid:103 (sleep), pid:104 (sleep), pid:105 (sleep), pid:106 (sleep), pid:107 (sleep), pid:108 (sleep), pid:109 (sleep) and 2 more",
		"warning: network namespace web1 was passed over: something else",
	}
	if !slices.Equal(got, want) {
		t.Errorf("notes:\n%q\nwant:\n%q", got, want)
	}
	if (&passedOver{}).notes() != nil {
		t.Error("a note with nothing passed over")
	}
}
