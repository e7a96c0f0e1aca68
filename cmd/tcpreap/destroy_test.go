package main

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestSurvivorExitsOne: a kernel that answers 0 and keeps the socket (before
// 6.11, for orphans) gives failed results, the sentence once, and exit 1.
func TestSurvivorExitsOne(t *testing.T) {
	plan := testPlan()
	for i := range plan.Targets {
		plan.Targets[i].Inode = 0 // orphans, which the kernel looks after until their close ends
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(plan.Targets), Ineffective: true, Release: sockdiag.Release{Major: 6, Minor: 6}}
	results := plan.Execute(t.Context(), k.Conn())
	var stderr bytes.Buffer
	err := failures(results, streams{ErrOut: &stderr})
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Fatalf("failures: %v, want exit %d", err, exitFailure)
	}
	if n := strings.Count(stderr.String(), "still there"); n != 1 {
		t.Errorf("stderr %q: want the sentence once", stderr.String())
	}
	for _, r := range results[:len(plan.Targets)] {
		if r.Socket.IsTimeWait() {
			continue // its 0 is the truth: no orphan
		}
		if r.Action != inet.Failed || !errors.Is(r.Err, sockdiag.ErrStillPresent) {
			t.Errorf("%s: %s %v, want failed: still present", r.Socket.State, r.Action, r.Err)
		}
	}
}

// TestMaxAndConfirmRefuse: --max and a declined confirmation refuse the
// whole plan before the kernel is asked to destroy anything.
func TestMaxAndConfirmRefuse(t *testing.T) {
	for _, tc := range []struct {
		o    options
		io   streams
		want string
	}{
		{options{max: 2, maxSet: true}, streams{}, "3 sockets would be destroyed, more than --max 2"},
		{options{}, streams{Terminal: func() (io.ReadWriteCloser, error) { return &fakeTTY{in: strings.NewReader("n\n")}, nil }}, "not confirmed"},
	} {
		plan := testPlan()
		k := &sockdiagtest.Kernel{Sockets: slices.Clone(plan.Targets)}
		var stdout, stderr bytes.Buffer
		tc.io.Out, tc.io.ErrOut = &stdout, &stderr
		tc.o.noAudit = true
		err := destroy(t.Context(), &tc.o, tc.io, parts{{conn: k.Conn(), plan: plan}})
		var rf refusal
		if !errors.As(err, &rf) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a refusal %q", tc.o, err, tc.want)
		}
		if len(k.Sockets) != 3 || len(k.Requests) != 0 {
			t.Errorf("%+v: %d requests, %d sockets left of 3", tc.o, len(k.Requests), len(k.Sockets))
		}
	}
}
