package reap

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockpacket"
)

// TestEndsWords: each flow's result says what each end got.
func TestEndsWords(t *testing.T) {
	noAnswer := &sockpacket.NoAnswerError{Wait: time.Second, Probes: 4}
	for _, c := range []struct {
		client, server error
		want           string
	}{
		{nil, nil, "reset both"},
		{nil, noAnswer, "reset client only: the server did not answer in 1 s"},
		{sockpacket.ErrNoConnection, nil, "reset server only: the client had no such connection"},
		{sockpacket.ErrStillAnswering, errors.New("no route to 192.0.2.2"), "reset neither: the client went on answering after its RSTs; the server was not reset: no route to 192.0.2.2"},
		{fmt.Errorf("x: %w", noAnswer), nil, "reset server only: the client did not answer in 1 s"},
		{nil, &sockpacket.NoAnswerError{Wait: time.Second, Dropped: true}, "reset client only: the server did not answer in 1 s, or its answer was among the packets this host's capture dropped (too many at once, or the host too loaded)"},
	} {
		if got := endsWords(c.client, c.server); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v, %v: %q, want %q", c.client, c.server, got, c.want)
		}
	}
}

func TestExplainFlowNamesCapNetRaw(t *testing.T) {
	why, ok := ExplainFlow(fmt.Errorf("not deleted: %w", sockpacket.ErrNoPrivilege))
	if !ok || !strings.Contains(why, "CAP_NET_RAW") || !strings.Contains(why, "nothing was deleted") {
		t.Errorf("%q %v", why, ok)
	}
}

// TestNoReset: a TCP flow with an open connection is reset; UDP, a flow whose ends hold no
// open connection, and a flow in a conntrack zone are sent nothing. A zone keeps apart
// networks whose addresses overlap: the routes of the table's namespace, by which the
// segments are sent, may lead to another network's host with the same addresses.
func TestNoReset(t *testing.T) {
	ap := netip.MustParseAddrPort
	est := flows.Flow{Protocol: inet.TCP, State: flows.Est,
		Orig:  flows.Tuple{Src: ap("198.51.100.2:40000"), Dst: ap("198.51.100.1:8080")},
		Reply: flows.Tuple{Src: ap("192.0.2.2:80"), Dst: ap("192.0.2.1:40000")}}
	udp, closed, zoned := est, est, est
	udp.Protocol, udp.State = inet.UDP, 0
	closed.State = flows.TimeWait
	zoned.Zone = 2
	for _, c := range []struct {
		fl   flows.Flow
		want string
	}{
		{est, ""},
		{udp, "no reset: UDP has none"},
		{closed, "no reset: its ends hold no open connection (time_wait)"},
		{zoned, "no reset: a flow in conntrack zone 2"},
	} {
		if got := noReset(c.fl); !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("%s in zone %d, %s: %q, want %q", c.fl, c.fl.Zone, c.fl.State, got, c.want)
		}
	}
}
