package main

import "testing"

// TestSpaceIndexAt: each result is found in its part, empty parts passed over.
func TestSpaceIndexAt(t *testing.T) {
	x := &spaceIndex{ends: []int{2, 2, 5, 5, 6}} // parts 1 and 3 are empty
	want := []int{0, 0, 2, 2, 2, 4}
	for i, p := range want {
		if got := x.at(i); got != p {
			t.Errorf("at(%d) = %d, want %d", i, got, p)
		}
	}
}
