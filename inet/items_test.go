package inet_test

import (
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

func TestItems(t *testing.T) {
	got := inet.Items([]string{"1,2", " 3 ", "192.0.2.1, 192.0.2.2", "a,,b"})
	want := []string{"1", "2", "3", "192.0.2.1", "192.0.2.2", "a", "", "b"}
	if !slices.Equal(got, want) {
		t.Errorf("Items = %q, want %q", got, want)
	}
}
