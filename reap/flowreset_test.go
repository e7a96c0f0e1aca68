package reap

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
