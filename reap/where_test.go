package reap

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
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

// TestEnginesThatActed: a report names the engines that destroyed; when
// none did, the engines whose answers its results are.
func TestEnginesThatActed(t *testing.T) {
	res := func(engine string, action inet.Action) kill.Result {
		return kill.Result{Engine: engine, Action: action}
	}
	for _, c := range []struct {
		results []kill.Result
		want    string
	}{
		{[]kill.Result{res("diag", inet.Failed), res("fd", inet.Killed), res("fd", inet.Killed)}, "[fd]"},
		{[]kill.Result{res("diag", inet.Killed), res("fd", inet.Pending)}, "[diag fd]"},
		{[]kill.Result{res("diag", inet.Failed), res("fd", inet.Failed)}, "[diag fd]"},
		{[]kill.Result{res("", inet.Skipped)}, "[]"},
	} {
		if got := fmt.Sprint(NewReport(false, Group{Results: c.results}).Engines()); got != c.want {
			t.Errorf("Engines of %+v = %s, want %s", c.results, got, c.want)
		}
	}
}

// TestBPFDoubtful: what the bpf engine answered for a target is looked up
// again when it may not be what happened: a destroy, a target its walk did
// not meet, a walk that failed partway; a refusal is the truth.
func TestBPFDoubtful(t *testing.T) {
	e := &bpfEngine{}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{sockdiag.ErrGone, true},
		{walkError{errors.New("reading the iterator: EIO")}, true},
		{errBPFNotFull, false},
		{errBPFUnconnected, false},
	} {
		if got := e.Doubtful(t.Context(), nil, c.err); got != c.want {
			t.Errorf("Doubtful(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
