package reap

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
)

// A FlowRun is a selection of conntrack entries planned in the table of one
// network namespace, on a ctnetlink connection made there, ready to be shown
// or deleted. It holds the connection until Close.
type FlowRun struct {
	conn  *flows.Conn
	ns    *host.Namespace // nil: the one tcpreap runs in
	plan  *flows.Plan
	netns string
	notes []string
}

// QueryFlows dumps the conntrack table of the namespace where names (one
// namespace: a router's table is its own, so where.All is an *InputError),
// and plans the entries f selects, those of the SSH session tcpreap runs in
// kept back unless includeSelf. The plan is in the order a person reads,
// as flows.Conn.Dump returns it: by protocol, then client, then server. The caller closes the FlowRun.
//
// Errors: an *InputError for a namespace that cannot be used as given;
// else what the kernel answered, explained (flows.Explain), naming the
// namespace it happened in and wrapping the *flows.OpError.
func QueryFlows(ctx context.Context, f *flows.Filter, where Where, includeSelf bool) (*FlowRun, error) {
	r := &FlowRun{}
	conn, ns, session, err := dialFlows(where, includeSelf, &r.notes)
	if err != nil {
		return nil, err
	}
	r.netns = ns.String()
	found, err := conn.Dump(ctx, f)
	if err != nil {
		conn.Close()
		ns.Close()
		return nil, inSpace(ns, flowError(err))
	}
	// The namespace stays open for the resets, which send from it.
	r.conn, r.ns, r.plan = conn, ns, flows.NewPlan(found, session)
	return r, nil
}

// A FlowList is what QueryFlows' plan would show in a dry run, without the
// plan: a flows.List, with the notes to read with it.
type FlowList struct {
	*flows.List
	notes []string
}

// Notes are what a person should read with the list.
func (l *FlowList) Notes() []string { return l.notes }

// ListFlows dumps the table QueryFlows would and lists what a dry run of
// its plan shows (flows.NewList), entry for entry and in its order, in
// far less memory than the plan: for a listing that deletes nothing. Its
// errors are QueryFlows'.
func ListFlows(ctx context.Context, f *flows.Filter, where Where, includeSelf bool) (*FlowList, error) {
	l := &FlowList{}
	conn, ns, session, err := dialFlows(where, includeSelf, &l.notes)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	defer conn.Close()
	if l.List, err = flows.NewList(ctx, conn, f, session); err != nil {
		return nil, inSpace(ns, flowError(err))
	}
	return l, nil
}

// dialFlows opens the namespace where names (nil: the one tcpreap runs
// in) and a ctnetlink connection there, and finds the session to keep
// back, with its notes; the caller closes both.
func dialFlows(where Where, includeSelf bool, notes *[]string) (*flows.Conn, *host.Namespace, *inet.Session, error) {
	if where.All {
		return nil, nil, nil, &InputError{InputAll, errors.New("conntrack tables are listed one namespace at a time")}
	}
	var ns *host.Namespace
	if where.NetNS != "" {
		var err error
		if ns, err = host.OpenNetNS(where.NetNS); err != nil {
			return nil, nil, nil, &InputError{InputNetNS, err}
		}
	}
	session := sessionGuard(includeSelf, flowSession, notes)
	conn, err := flows.Dial(&flows.Config{NetNS: dialFd(ns)})
	if err != nil {
		err = inSpace(ns, flowError(enterError(ns, err)))
		ns.Close()
		return nil, nil, nil, err
	}
	return conn, ns, session, nil
}

// Notes are what a person should read with the plan.
func (r *FlowRun) Notes() []string { return r.notes }

// Plan is what the FlowRun would delete, and what it keeps back.
func (r *FlowRun) Plan() *flows.Plan { return r.plan }

// NetNS names the namespace of the table as it was given; "" for the one
// tcpreap runs in.
func (r *FlowRun) NetNS() string { return r.netns }

// FlowOptions change how a FlowRun is executed.
type FlowOptions struct {
	// Reset resets both ends of every TCP flow before its entry is deleted
	// (see FlowRun.Execute).
	Reset bool
}

// Execute deletes the planned entries, each by its tuple, zone and id, and
// verifies that they are gone (flows.Plan.Execute). With o.Reset, it first
// resets both ends of each TCP flow (see resetEnds), says in each result
// what the ends got (flows.Result.Ends), and after the delete watches the
// table for newResetEntry: an entry that appears there again for a reset
// flow's tuple fails it (an end still sends). Without CAP_NET_RAW nothing
// is sent or deleted, and every target fails with sockpacket.ErrNoPrivilege.
func (r *FlowRun) Execute(ctx context.Context, o FlowOptions) []flows.Result {
	if !o.Reset {
		return r.plan.Execute(ctx, r.conn)
	}
	ends, err := r.resetEnds(ctx)
	if err != nil {
		out := make([]flows.Result, 0, len(r.plan.Targets)+len(r.plan.Skipped))
		for _, fl := range r.plan.Targets {
			out = append(out, flows.Result{Flow: fl, Action: inet.Failed, Err: fmt.Errorf("not deleted: %w", err)})
		}
		return append(out, r.plan.Skipped...)
	}
	results := r.plan.Execute(ctx, r.conn)
	for i := range r.plan.Targets {
		results[i].Ends = ends[i]
	}
	r.watchReset(ctx, results[:len(r.plan.Targets)])
	return results
}

// Close closes the connection and the namespace.
func (r *FlowRun) Close() {
	r.conn.Close()
	r.ns.Close()
}

// flowError explains a failed dial or dump.
func flowError(err error) error {
	if why, ok := flows.Explain(err); ok {
		return fmt.Errorf("%s: %w", why, err)
	}
	var op *flows.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("cannot list conntrack entries: %w", op.Err)
	}
	return fmt.Errorf("cannot list conntrack entries: %w", err)
}
