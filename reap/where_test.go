package reap

import (
	"fmt"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"golang.org/x/sys/unix"
)

// TestPassesOver: only a listing of every namespace goes on without one it
// cannot enter; a namespace named by itself, the one tcpreap runs in, and
// any failure but a refused entry fail the Query.
func TestPassesOver(t *testing.T) {
	other := &host.Namespace{Label: "web1", Reach: "web1", ID: "net:[4026532999]"}
	denied := fmt.Errorf("entering another network namespace needs CAP_SYS_ADMIN (try sudo): %w", unix.EPERM)
	for _, tc := range []struct {
		where Where
		ns    *host.Namespace
		err   error
		want  bool
	}{
		{Where{All: true, PassOver: true}, other, denied, true},
		{Where{All: true, PassOver: true}, nil, denied, false},        // its own namespace
		{Where{All: true, PassOver: true}, other, unix.ENOENT, false}, // not a refused entry
		{Where{All: true}, other, denied, false},                      // a destroy or a plan
		{Where{NetNS: "web1", PassOver: true}, other, denied, false},  // named by itself: the whole Query
		{Where{NetNS: "web1", PassOver: true}, other, nil, false},
	} {
		if got := tc.where.passesOver(tc.ns, tc.err); got != tc.want {
			t.Errorf("%+v, %v, %v: passes over %v, want %v", tc.where, tc.ns, tc.err, got, tc.want)
		}
	}
}
