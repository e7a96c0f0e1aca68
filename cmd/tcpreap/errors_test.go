package main

import (
	"strings"
	"testing"
)

// TestNotes: a note is one line on stderr, its control characters shown
// escaped; -q says none.
func TestNotes(t *testing.T) {
	var stderr strings.Builder
	io := streams{ErrOut: &stderr}
	io.notes(false, "peer db1 is 192.0.2.2", "warning: network namespace pid:7 (evil\x1b[2J) was passed over")
	io.notes(true, "not said")
	want := "tcpreap: peer db1 is 192.0.2.2\ntcpreap: warning: network namespace pid:7 (evil\\x1b[2J) was passed over\n"
	if stderr.String() != want {
		t.Errorf("notes: %q, want %q", stderr.String(), want)
	}
}
