package sockdiag

import (
	"strings"
	"testing"
)

func FuzzParseStates(f *testing.F) {
	for _, s := range []string{"established", "close-wait,TIME_WAIT", "all", "big,listen", "", ",", "fin-wait-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		sel, err := ParseStates(word)
		if err == nil && sel&^AllStates != 0 {
			t.Fatalf("%q: selected %#x, beyond every state", word, sel)
		}
	})
}

func TestParseStates(t *testing.T) {
	tests := []struct {
		word     string
		selected StateMask
		err      string
	}{
		{word: "established", selected: 1 << Established},
		{word: "CLOSE_WAIT", selected: 1 << CloseWait},
		{word: "close-wait,time-wait", selected: 1<<CloseWait | 1<<TimeWait},
		{word: "fin-wait-1", selected: 1 << FinWait1},
		{word: "fin_wait_2", selected: 1 << FinWait2},
		{word: "listening", selected: 1 << Listen},
		{word: "closed", selected: 1 << Close},
		{word: "syn-recv", selected: 1 << SynRecv},
		{word: "all", selected: 0xffe},
		{word: "connected", selected: 0xffe &^ (1<<Listen | 1<<Close)},
		{word: "synchronized", selected: 0xffe &^ (1<<Listen | 1<<Close | 1<<SynSent)},
		{word: "bucket", selected: 1<<SynRecv | 1<<TimeWait},
		{word: "big", selected: 0xffe &^ (1<<SynRecv | 1<<TimeWait)},
		{word: "big,listen", selected: 0xffe &^ (1<<SynRecv | 1<<TimeWait)},
		{word: "bogus", err: `unknown state "bogus"`},
		{word: "established,", err: `unknown state ""`},
		{word: "estab", err: `unknown state "estab"`},
	}
	for _, tt := range tests {
		sel, err := ParseStates(tt.word)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseStates(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || sel != tt.selected {
			t.Errorf("ParseStates(%q) = %#x, %v; want %#x", tt.word, sel, err, tt.selected)
		}
	}
}

func TestStateNames(t *testing.T) {
	for _, s := range AllStates.States() {
		sel, err := ParseStates(s.String())
		if err != nil || sel != 1<<s {
			t.Errorf("state %d: name %q does not parse back", s, s)
		}
		if s.Label() == "" || strings.ToUpper(s.Label()) != s.Label() {
			t.Errorf("state %d: label %q", s, s.Label())
		}
	}
	if got := len(AllStates.States()); got != 11 {
		t.Errorf("AllStates has %d states, want 11", got)
	}
}

// TestStateWords: every word offered for --state parses, and each state and
// group is offered once.
func TestStateWords(t *testing.T) {
	words := StateWords()
	if len(words) != int(Closing)+len(stateGroups) {
		t.Errorf("StateWords() = %q: want %d states and %d groups", words, Closing, len(stateGroups))
	}
	seen := map[string]bool{}
	for _, w := range words {
		if _, err := ParseStates(w); err != nil || seen[w] {
			t.Errorf("StateWords() offers %q: %v (seen before: %v)", w, err, seen[w])
		}
		seen[w] = true
	}
}

// TestListenNamed: LISTEN sockets become targets only when the state word
// names listen, or every state; a group that contains it does not.
func TestListenNamed(t *testing.T) {
	for word, want := range map[string]bool{
		"listen": true, "LISTENING": true, "all": true, "big,listen": true, "established, listen": true,
		"big": false, "connected": false, "established": false, "close_wait,time_wait": false, "bogus": false,
	} {
		if got := ListenNamed(word); got != want {
			t.Errorf("ListenNamed(%q) = %v, want %v", word, got, want)
		}
	}
}
