package main

import "testing"

// TestMaxIsDecimal: --max 010 is ten, never eight.
func TestMaxIsDecimal(t *testing.T) {
	for word, want := range map[string]int{"010": 10, "0": 0, "7": 7, "250000": 250000} {
		m := &maxFlag{word: word, set: true}
		if err := m.check(socketWords); err != nil || m.max != want {
			t.Errorf("--max %s: %d, %v; want %d", word, m.max, err, want)
		}
	}
}
