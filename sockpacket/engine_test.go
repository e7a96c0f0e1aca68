package sockpacket

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

var _ kill.Engine = (*Engine)(nil)

// TestEngineRefuses: UDP sockets and the TCP states a SYN would not provoke are refused,
// each with its reason, and nothing is sent for them (no socket is opened: this test
// needs no privilege).
func TestEngineRefuses(t *testing.T) {
	id := sockdiag.SockID{Local: netip.MustParseAddrPort("192.0.2.1:80"), Remote: netip.MustParseAddrPort("192.0.2.2:40000")}
	targets := []sockdiag.Socket{
		{Protocol: inet.UDP, State: sockdiag.Established, ID: id},
		{Protocol: inet.TCP, State: sockdiag.TimeWait, ID: id},
		{Protocol: inet.TCP, State: sockdiag.Listen, ID: id},
		{Protocol: inet.TCP, State: sockdiag.SynSent, ID: id},
		{Protocol: inet.TCP, State: sockdiag.SynRecv, ID: id},
	}
	settled := 0
	errs := (&Engine{}).Destroy(context.Background(), targets, func(n int) { settled += n })
	for i, err := range errs {
		if !kill.Refused(err) {
			t.Errorf("%s %s: %v, want a refusal", targets[i].Protocol, targets[i].State, err)
		}
	}
	if !strings.Contains(errs[0].Error(), "UDP has no reset") || !strings.Contains(errs[1].Error(), "TIME-WAIT") {
		t.Errorf("reasons: %v", errs)
	}
	if settled != len(targets) {
		t.Errorf("progress told %d, want %d", settled, len(targets))
	}
}

func TestAnswer(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted")
	cancel(cause)
	no := &NoAnswerError{}
	for _, c := range []struct {
		err      error
		limitWon bool
		want     error
	}{
		{nil, false, nil},
		{ErrUnconfirmed, false, nil},
		{ErrNoConnection, false, sockdiag.ErrGone},
		{no, false, ErrUnreachable},
		{no, true, ErrLimitWon},
		{cause, false, sockdiag.ErrNotAttempted},
	} {
		if got := answer(ctx, c.err, c.limitWon); !errors.Is(got, c.want) && (got != nil || c.want != nil) {
			t.Errorf("%v (limit won %v): %v, want %v", c.err, c.limitWon, got, c.want)
		}
	}
}
