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
	defer ns.Close() // the socket stays in the namespace it was made in
	r.netns = ns.String()
	found, err := conn.Dump(ctx, f)
	if err != nil {
		conn.Close()
		return nil, inSpace(ns, flowError(err))
	}
	r.conn, r.plan = conn, flows.NewPlan(found, session)
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

// Execute deletes the planned entries, each by its tuple, zone and id, and
// verifies that they are gone (flows.Plan.Execute).
func (r *FlowRun) Execute(ctx context.Context) []flows.Result { return r.plan.Execute(ctx, r.conn) }

// Close closes the connection.
func (r *FlowRun) Close() { r.conn.Close() }

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
