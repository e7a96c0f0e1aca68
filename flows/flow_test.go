package flows

import (
	"strings"
	"testing"
)

func TestParseTCPStates(t *testing.T) {
	for word, want := range map[string]TCPStateMask{
		"established": 1 << Est, "SYN-SENT,syn_recv": 1<<SynSent | 1<<SynRecv, "estab": 1 << Est,
		"all": AllTCPStates, "Time_Wait": 1 << TimeWait, "fin-wait": 1 << FinWait,
	} {
		if got, err := ParseTCPStates(word); err != nil || got != want {
			t.Errorf("%q: %b, %v; want %b", word, got, err, want)
		}
	}
	for _, word := range []string{"", "bogus", "fin_wait1", "listen", "established,"} {
		if got, err := ParseTCPStates(word); err == nil {
			t.Errorf("%q: %b, want an error", word, got)
		}
	}
}

func TestParseStatuses(t *testing.T) {
	if s, err := ParseStatuses("Unreplied,assured"); err != nil || len(s) != 2 || s[0] != WantUnreplied || s[1] != WantAssured {
		t.Errorf("statuses: %v, %v", s, err)
	}
	for _, w := range []string{"seen_reply", "", "assured,"} {
		if _, err := ParseStatuses(w); err == nil {
			t.Errorf("%q: no error", w)
		}
	}
}

func TestStatusWords(t *testing.T) {
	for status, want := range map[Status]string{
		0:                              "unreplied",
		SeenReply | Confirmed:          "",
		SeenReply | Assured | DstNAT:   "assured,dnat",
		Expected | Dying | HWOffload:   "unreplied,expected,dying,offload",
		SeenReply | SrcNAT | Offloaded: "snat,offload",
	} {
		if got := strings.Join(status.Words(), ","); got != want {
			t.Errorf("%#x: %q, want %q", uint32(status), got, want)
		}
	}
}
